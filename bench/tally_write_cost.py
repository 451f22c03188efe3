"""``python -m bench.tally_write_cost URL...``: what a tally kept in the status
change's transaction would cost each write, the design weighed against bounded reads. One
reminder's status moved per transaction (as the dispatcher's claim, send and outcome each
commit) on a 20,000-row table, without and with the two updates of (channel, status) count
rows; three interleaved rounds of 1,500 changes each way; one client (no contention)."""

import os
import statistics
import sys
import time

from sqlalchemy import create_engine, text


def setup(e):
    with e.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS tb_reminder"))
        c.execute(text("DROP TABLE IF EXISTS tb_tally"))
        c.execute(
            text(
                "CREATE TABLE tb_reminder (id INTEGER PRIMARY KEY, channel VARCHAR(16), status VARCHAR(16), "
                "due_at VARCHAR(32))"
            )
        )
        c.execute(text("CREATE INDEX ix_tb_status_due ON tb_reminder (status, due_at)"))
        c.execute(
            text(
                "CREATE TABLE tb_tally (channel VARCHAR(16), status VARCHAR(16), n BIGINT NOT NULL, "
                "PRIMARY KEY (channel, status))"
            )
        )
        c.execute(
            text("INSERT INTO tb_reminder (id, channel, status, due_at) VALUES (:i, 'sms', 'pending', :d)"),
            [{"i": i, "d": f"2026-11-{i % 28 + 1:02d}"} for i in range(1, 20001)],
        )
        c.execute(
            text(
                "INSERT INTO tb_tally VALUES ('sms','pending',20000),('sms','sent',0),('sms','sending',0),"
                "('sms','delivered',0)"
            )
        )


STEPS = [("pending", "sending"), ("sending", "sent"), ("sent", "delivered")]


def run(e, ids, tally):
    start = time.perf_counter()
    for i in ids:
        for old, new in STEPS:
            with e.begin() as c:
                c.execute(
                    text("UPDATE tb_reminder SET status = :new WHERE id = :i AND status = :old"),
                    {"i": i, "old": old, "new": new},
                )
                if tally:
                    c.execute(
                        text("UPDATE tb_tally SET n = n - 1 WHERE channel = 'sms' AND status = :old"), {"old": old}
                    )
                    c.execute(
                        text("UPDATE tb_tally SET n = n + 1 WHERE channel = 'sms' AND status = :new"), {"new": new}
                    )
    return (time.perf_counter() - start) / (len(ids) * len(STEPS)) * 1e6


for url in sys.argv[1:]:
    e = create_engine(url)
    setup(e)
    res = {False: [], True: []}
    for r in range(6):
        tally = r % 2 == 1
        ids = range(1 + r * 500, 1 + (r + 1) * 500)
        res[tally].append(run(e, ids, tally))
    print(
        url.split(":")[0],
        "µs per status change: plain",
        [round(x) for x in res[False]],
        "tally",
        [round(x) for x in res[True]],
        "median +%.0f µs" % (statistics.median(res[True]) - statistics.median(res[False])),
        "load",
        os.getloadavg(),
    )
    with e.begin() as c:
        c.execute(text("DROP TABLE tb_reminder"))
        c.execute(text("DROP TABLE tb_tally"))
