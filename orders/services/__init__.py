"""Commands of the orders app: the only code that changes catalog, stock, order and cart state."""

from .carts import carts_abandon_idle
from .catalog import location_create, product_save
from .lifecycle import ACTIONS, allowed_actions, order_act, order_step_recorded
from .orders import order_place, order_place_oversell_allowed
from .stock import MOVEMENT_KINDS, stock_move, stock_move_recorded

__all__ = [
    "ACTIONS",
    "MOVEMENT_KINDS",
    "allowed_actions",
    "carts_abandon_idle",
    "location_create",
    "order_act",
    "order_place",
    "order_place_oversell_allowed",
    "order_step_recorded",
    "product_save",
    "stock_move",
    "stock_move_recorded",
]
