"""Who a person is: the one walk of a merge tree. A person is a root customer and everyone merged into it, directly or
through a chain of merges (`customer.merged` names the survivor and the merged customer; nothing moves). Every read
model that folds merges (the customers directory, insights' person facts) answers "who makes up these people" with
this walk, each over its own table, so the rule (breadth first, level by level, a member seen once, cycles cut) is
written once.
"""

import uuid
from collections.abc import Callable, Iterable

# children_of(frontier) -> (member, the customer it was merged into) for every member merged into one of the frontier.
ChildrenOf = Callable[[set[uuid.UUID]], Iterable[tuple[uuid.UUID, uuid.UUID]]]


def merge_groups(roots: Iterable[uuid.UUID], children_of: ChildrenOf) -> dict[uuid.UUID, uuid.UUID]:
    """Every customer making up these people (the roots themselves included), with the root of its person. One call
    of `children_of` per level of the deepest merge chain."""
    root_of = {root: root for root in roots}
    frontier = set(root_of)
    while frontier:
        found = children_of(frontier)
        frontier = set()
        for member, into in found:
            if member not in root_of:
                root_of[member] = root_of[into]
                frontier.add(member)
    return root_of
