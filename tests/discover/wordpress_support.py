"""A WordPress site in MariaDB as booking plugins that keep no table of their own find it
(tests/fixtures/ehr/wordpress): WordPress core's tables, the site's own content beside the
bookings (pages, posts with their revisions, attachments, menu items, WooCommerce-style
orders with dates, names, phones and a customer), an administrator, staff and registered
customers with their user meta. The plugin's tests add the bookings (test_real_wp_*.py).
Every person is synthetic."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.discover import real_ehr_support as real

FIRST = ["James", "Mary", "Robert", "Patricia", "Luis", "Jennifer", "Michael", "Aisha", "David", "Grace", "Omar",
         "Sofia"]
LAST = ["Smith", "Johnson", "Nguyen", "Brown", "Rivera", "Garcia", "Miller", "Patel", "Okafor", "Lindqvist"]
SUBSCRIBER = 'a:1:{s:10:"subscriber";b:1;}'


@dataclass
class Site:
    """What the site holds that a booking refers to: its registered customers (user id ->
    first, last, email, E.164 phone) and the next free post id."""

    customers: dict[int, tuple[str, str, str, str]] = field(default_factory=dict)
    next_post: int = 1

    def post_id(self) -> int:
        self.next_post += 1
        return self.next_post - 1


BACK = timedelta(days=1)  # the SQL connector's default window: visits that started up to a day ago


def visit_start(now: datetime, visit: int, hour: int, minute: int) -> datetime | None:
    """The ``visit``-th booking's local start at ``hour``:``minute``: a quarter of them in the
    last six days, the rest in the next 25; None at the window's edge as the test runs (in or
    out would depend on the second it syncs)."""
    day = now - timedelta(days=1 + visit % 6) if visit % 4 == 0 else now + timedelta(days=1 + visit % 25)
    start = day.replace(hour=hour, minute=minute)
    return None if abs(start - (now - BACK)) < timedelta(minutes=45) else start


def typed(e164: str, style: int) -> str:
    """A US number as people type it into a form."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return [f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}", f"{area}-{exchange}-{line}",
            f"+1 {area} {exchange} {line}", f"{area}{exchange}{line}"][style % 5]


def us_number(rng: random.Random) -> str:
    return f"+1{rng.choice(['212', '646', '718', '917'])}{rng.randrange(202, 990)}{rng.randrange(10**4):04d}"


def insert_post(cursor: Any, site: Site, post_type: str, status: str, title: str, when: datetime,
                author: int = 1, parent: int = 0, meta: Sequence[tuple[str, Any]] = (),
                gmt: timedelta = timedelta(hours=5)) -> int:
    """One ``wp_posts`` row as ``wp_insert_post`` writes it, and its meta rows; its id."""
    post = site.post_id()
    cursor.execute("INSERT INTO wp_posts (ID, post_author, post_date, post_date_gmt, post_content, post_title, "
                   "post_excerpt, post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, "
                   "post_content_filtered, post_parent, guid, post_type) VALUES (%s, %s, %s, %s, '', %s, '', %s, "
                   "%s, '', '', %s, %s, '', %s, %s, %s)",
                   (post, author, when, when + gmt, title, status, f"{post_type}-{post}", when, when + gmt, parent,
                    f"https://clinic.example.com/?p={post}", post_type))
    real.insert_rows(cursor, "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)",
                     [(post, key, None if value is None else str(value)) for key, value in meta])
    return post


def build_site(cursor: Any, rng: random.Random, now: datetime, zone: str, customers: int,
               phone_key: str) -> Site:
    """WordPress core's tables and a clinic's site: options, users (an administrator, two
    editors, ``customers`` registered customers whose phone is the user meta ``phone_key``),
    pages, posts and their revisions, attachments, menu items and shop orders."""
    real.run_ddl(cursor, real.FIXTURES / "wordpress" / "schema.sql")
    real.insert_rows(cursor, "INSERT INTO wp_options (option_name, option_value) VALUES (%s, %s)",
                     [("siteurl", "https://clinic.example.com"), ("blogname", "Riverside Family Practice"),
                      ("timezone_string", zone), ("date_format", "F j, Y"), ("time_format", "g:i a"),
                      ("admin_email", "office@clinic.example.com")])
    site = Site()
    staff = [(1, "admin", "Office", "Manager"), (2, "editor1", "Rosa", "Delgado"), (3, "editor2", "Tom", "Becker")]
    users = [(u, login, f"{login}@clinic.example.com", first, last, "") for u, login, first, last in staff]
    for number in range(customers):
        user = 10 + number
        first, last = FIRST[number % len(FIRST)], LAST[(number * 7) % len(LAST)]
        e164 = us_number(rng)
        email = f"{first.lower()}.{last.lower()}{user}@mail.example.com"
        site.customers[user] = (first, last, email, e164)
        users.append((user, email, email, first, last, typed(e164, number)))
    for user, login, email, first, last, phone in users:
        cursor.execute("INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, user_registered, "
                       "display_name) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       (user, login, "$P$B4y1mF0xQ2c9r8s7t6u5v4w3x2y1z0.", login[:50].replace("@", ""), email,
                        now - timedelta(days=400 - user), first))
        meta = [("nickname", first), ("first_name", first), ("last_name", last), ("description", ""),
                ("rich_editing", "true"), ("wp_capabilities", SUBSCRIBER if user >= 10 else
                                          'a:1:{s:13:"administrator";b:1;}'),
                ("wp_user_level", "0" if user >= 10 else "10"), ("session_tokens", None)]
        if phone:
            meta.append((phone_key, phone))
        if user >= 10 and user % 3 == 0:  # a shop customer too: the billing fields WooCommerce keeps
            meta += [("billing_phone", phone), ("billing_first_name", first), ("billing_city", "New York")]
        real.insert_rows(cursor, "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (%s, %s, %s)",
                         [(user, key, value) for key, value in meta])
    for page, title in enumerate(["Home", "About us", "Our doctors", "Book a visit", "Contact", "Privacy"]):
        when = now - timedelta(days=500 - page)
        parent = insert_post(cursor, site, "page", "publish", title, when, meta=[
            ("_edit_last", "1"), ("_edit_lock", f"{int(when.timestamp())}:1"), ("_wp_page_template", "default")])
        insert_post(cursor, site, "revision", "inherit", title, when, parent=parent)
    for number in range(25):
        when = now - timedelta(days=300 - 11 * number, hours=number)
        post = insert_post(cursor, site, "post", "publish" if number % 6 else "draft", f"Health tip #{number}", when,
                           author=2 + number % 2, meta=[("_edit_last", "2"), ("_thumbnail_id", "0")])
        insert_post(cursor, site, "revision", "inherit", f"Health tip #{number}", when, parent=post)
        insert_post(cursor, site, "attachment", "inherit", f"tip-{number}.jpg", when, parent=post, meta=[
            ("_wp_attached_file", f"2025/03/tip-{number}.jpg"),
            ("_wp_attachment_metadata", 'a:2:{s:5:"width";i:1200;s:6:"height";i:800;}')])
    for number in range(6):
        insert_post(cursor, site, "nav_menu_item", "publish", "", now - timedelta(days=450), meta=[
            ("_menu_item_type", "post_type"), ("_menu_item_object_id", str(1 + 2 * number)),
            ("_menu_item_url", "")])
    buyers = [u for u in site.customers if u % 3 == 0]
    for number in range(60):  # a shop's orders: dates, names, phones and a customer, never a visit
        buyer = buyers[number % len(buyers)]
        first, last, email, e164 = site.customers[buyer]
        paid = now - timedelta(days=2 + 3 * number, hours=number % 9)
        status = ["wc-completed", "wc-processing", "wc-cancelled", "wc-refunded"][number % 4]
        insert_post(cursor, site, "shop_order", status, f"Order &ndash; {paid:%B %d, %Y @ %I:%M %p}", paid,
                    meta=[("_order_key", f"wc_order_{rng.randrange(16**12):012x}"), ("_customer_user", str(buyer)),
                          ("_billing_first_name", first), ("_billing_last_name", last), ("_billing_email", email),
                          ("_billing_phone", typed(e164, number)), ("_order_total", f"{25 + number % 7 * 5}.00"),
                          ("_order_currency", "USD"), ("_paid_date", f"{paid:%Y-%m-%d %H:%M:%S}"),
                          ("_completed_date", f"{paid + timedelta(days=1):%Y-%m-%d %H:%M:%S}"),
                          ("_date_paid", str(int(paid.timestamp())))])
    return site


def discover_without_doctor(run: Any, settings: Any, command: list[str]) -> dict[str, Any]:
    """The admin's `discover <url> --write` on a plugin that keeps no doctor per visit: `check`
    (run by discover) fails on that alone (agendas and calendars reach nobody) and says so,
    nothing is quarantined, the admin typed at most ``real.ADMIN_LIMIT`` lines. The connector."""
    import yaml

    from tests.discover import sql_support as data

    before = settings.read_text(encoding="utf-8")
    _, out, err = run("discover", *command, "--write", expect=1)
    print(out, err, *(p.read_text(encoding="utf-8") for p in (settings.parent / "mappings").glob("*")))
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "error: practitioner." in errors[0] and "has a doctor" in errors[0], out
    assert "0 would be quarantined, 1 problem\n" in out + "\n", out
    assert data.admin_lines(before, command) <= real.ADMIN_LIMIT
    connector: dict[str, Any] = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]
    return connector
