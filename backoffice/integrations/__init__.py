"""Adapters from outside formats to our services: the Segment-spec tracking API (the SDKs of web shops and apps)
and the Shopify and WooCommerce webhooks. They own the doors (write keys, shop connections, receipts of webhook
deliveries, the dead-letter list, oversell alerts) and translate what comes in; every change of customers, carts
and orders goes through the customers and orders services."""
