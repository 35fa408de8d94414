"""Open a menu destination the way a person does (U1): a tab directly, anything else via 更多."""


def open_nav(page, label: str) -> None:
    link = page.locator("nav.nav a").get_by_text(label, exact=True).first
    if not link.is_visible():
        page.locator("nav.nav details.more > summary").click()
    link.click()
