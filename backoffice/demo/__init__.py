"""Demo data for `make run`: the `seed_demo` command, which asks each app to seed its part through its services."""
