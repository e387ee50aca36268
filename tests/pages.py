"""Reading a rendered page as a person of each of the product's languages gets it."""


def in_spanish_and_english(client, url: str) -> tuple[str, str]:
    """The HTML at `url` as a browser asking for Spanish, then for English, receives it."""
    spanish = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    return spanish, english


def page_text(response) -> str:
    """A page's HTML without the line-break opportunities (<wbr>) set in addresses and ids (staff_text.wrappable):
    what a reader sees, so an assertion that an address is (or is not) on the page means it."""
    return response.content.decode().replace("<wbr>", "")
