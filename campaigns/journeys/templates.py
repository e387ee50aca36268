"""Journeys ready to publish. Each is a plan (name, why, KPI) and a definition that passes validation as it is; staff
adapt the texts before publishing. Placeholder-free on purpose: the texts are the shop's own, in Spanish."""

from typing import Any

from customers.events import CustomerRegistered
from orders.events import CartAbandoned, OrderCollected, OrderPlaced, OrderReady

ABANDONED_CART: dict[str, Any] = {
    "trigger": {"kind": "event", "event": CartAbandoned.type_name},
    "goal": {"event": OrderPlaced.type_name},
    "reentry": {"mode": "every_time"},
    "start": "whatsapp",
    "steps": [
        # cart.abandoned is recorded once the cart sat idle for ORDERS_CART_IDLE_MINUTES (an hour by default).
        {
            "id": "whatsapp",
            "kind": "send",
            "channel": "whatsapp",
            "variants": {
                "whatsapp": {"template": "cart_reminder", "parameters": "Tu carrito te espera"},
                "email": {
                    "subject": "Te has dejado algo en el carrito",
                    "body": "¿Sigues pensándolo? Tu carrito te espera.",
                },
            },
            # Without WhatsApp consent (or address) the same message goes by email.
            "fallback": {"channel": "email", "after_hours": 0},
            "next": "wait-day",
        },
        {"id": "wait-day", "kind": "wait", "minutes": 23 * 60, "next": "email-coupon"},
        {
            "id": "email-coupon",
            "kind": "send",
            "channel": "email",
            "variants": {
                "email": {
                    "subject": "Un 10% para lo que dejaste en el carrito",
                    "body": "Usa el código VUELVE10 en las próximas 48 horas.",
                }
            },
            "next": "end",
        },
        {"id": "end", "kind": "end"},
    ],
}

WELCOME: dict[str, Any] = {
    "trigger": {"kind": "event", "event": CustomerRegistered.type_name},
    "goal": {"event": OrderPlaced.type_name},
    "reentry": {"mode": "once"},
    "steps": [
        {
            "id": "welcome",
            "kind": "send",
            "channel": "best",
            "channels": ["email", "whatsapp", "sms"],
            "variants": {
                "email": {"subject": "Bienvenida", "body": "Gracias por unirte. Esto es lo que te espera."},
                "whatsapp": {"template": "welcome", "parameters": ""},
                "sms": {"text": "Bienvenida: gracias por unirte."},
            },
            "next": "wait-3d",
        },
        {"id": "wait-3d", "kind": "wait", "minutes": 3 * 24 * 60, "next": "tips"},
        {
            "id": "tips",
            "kind": "send",
            "channel": "email",
            "variants": {"email": {"subject": "Nuestras tiendas", "body": "Recoge gratis en tienda en 2 horas."}},
        },
    ],
}

REVIEW_REQUEST: dict[str, Any] = {
    "trigger": {"kind": "event", "event": OrderCollected.type_name},
    "reentry": {"mode": "once_per_days", "days": 30},
    "steps": [
        {"id": "wait-week", "kind": "wait", "minutes": 7 * 24 * 60, "next": "ask"},
        {
            "id": "ask",
            "kind": "send",
            "channel": "best",
            "channels": ["email", "whatsapp"],
            "variants": {
                "email": {"subject": "¿Qué tal tu compra?", "body": "Cuéntanos tu experiencia en dos minutos."},
                "whatsapp": {"template": "review_request", "parameters": ""},
            },
        },
    ],
}

WIN_BACK: dict[str, Any] = {
    "trigger": {"kind": "segment", "segment": ""},
    "goal": {"event": OrderPlaced.type_name},
    "reentry": {"mode": "once_per_days", "days": 90},
    "steps": [
        {
            "id": "miss-you",
            "kind": "send",
            "channel": "email",
            "variants": {"email": {"subject": "Te echamos de menos", "body": "Un 15% con el código VUELVE15."}},
            "next": "wait-event",
        },
        {
            "id": "wait-event",
            "kind": "wait_event",
            "event": OrderPlaced.type_name,
            "timeout_minutes": 14 * 24 * 60,
            "next": "end",
            "timeout_next": "call",
        },
        {"id": "call", "kind": "task", "queue": "support", "title": "Llamar a este cliente (win-back)", "next": "end"},
        {"id": "end", "kind": "end"},
    ],
}

PICKUP_READY: dict[str, Any] = {
    "trigger": {"kind": "event", "event": OrderReady.type_name},
    "goal": {"event": OrderCollected.type_name},
    "reentry": {"mode": "every_time"},
    "steps": [
        {"id": "wait-2d", "kind": "wait", "minutes": 2 * 24 * 60, "next": "remind"},
        {
            "id": "remind",
            "kind": "send",
            "channel": "best",
            "channels": ["whatsapp", "sms", "email"],
            "variants": {
                "whatsapp": {"template": "pickup_reminder", "parameters": ""},
                "sms": {"text": "Tu pedido te espera en tienda."},
                "email": {"subject": "Tu pedido te espera", "body": "Recuerda recoger tu pedido en tienda."},
            },
        },
    ],
}

BIRTHDAY: dict[str, Any] = {
    # On the customer's birthday in their own zone, from 10:00 there (people without a birthday never enter); every
    # year, once (a date trigger enters a person once per occurrence).
    "trigger": {"kind": "date", "attribute": "birthday", "time": "10:00"},
    "goal": {"event": OrderPlaced.type_name},
    "reentry": {"mode": "every_time"},
    "steps": [
        {
            "id": "gift",
            "kind": "send",
            "channel": "best",
            "channels": ["email", "whatsapp"],
            "variants": {
                "email": {"subject": "¡Feliz cumpleaños!", "body": "Un regalo: 10% con FELIZ10 durante una semana."},
                "whatsapp": {"template": "birthday_gift", "parameters": "FELIZ10"},
            },
        },
    ],
}

TEMPLATES: dict[str, dict[str, Any]] = {
    "abandoned_cart": {
        "name": "Carrito abandonado",
        "objective": "Recuperar los carritos abandonados",
        "kpi": "pedidos tras el recordatorio",
        "definition": ABANDONED_CART,
    },
    "welcome": {"name": "Bienvenida", "objective": "Primera compra", "kpi": "primer pedido", "definition": WELCOME},
    "review_request": {
        "name": "Petición de opinión",
        "objective": "Compartir la experiencia",
        "kpi": "opiniones",
        "definition": REVIEW_REQUEST,
    },
    "win_back": {
        "name": "Recuperación",
        "objective": "Recuperar clientes a punto de irse",
        "kpi": "pedidos",
        "definition": WIN_BACK,
    },
    "pickup_ready": {
        "name": "Recordatorio de recogida",
        "objective": "Pedidos recogidos a tiempo",
        "kpi": "recogidas",
        "definition": PICKUP_READY,
    },
    "birthday": {"name": "Cumpleaños", "objective": "Fidelizar", "kpi": "pedidos", "definition": BIRTHDAY},
}
