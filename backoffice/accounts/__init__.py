"""Staff accounts and roles: who may see and do what. Every API view names the roles it admits."""
