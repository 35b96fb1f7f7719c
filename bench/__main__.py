"""``python -m bench [report|scale|fanout|faults|bulk|certificates|mail] [options]``.

With no benchmark named (``make bench``), the attendance report benchmark runs: 10,000 attendees,
three mornings, every format. ``scale`` is the join storm and fan-out at scale against a raw baseline
(``bench/scale_bench.py``, writes ``bench/results/latest.json``); ``fanout`` is the earlier
websocket fan-out benchmark; ``faults`` injects faults
(crashes, restarts, cut connections, lost publishes, slow readers, a join storm, killed workers) and
counts what every client saw. ``bulk`` times the preview and commit of a delegation list;
``certificates`` issues every certificate of the report benchmark's event; ``mail`` counts the reminder
mails a second the embedded worker sends over SMTP (``bench/mail_bench.py``).
"""

import sys

BENCHMARKS = ("report", "fanout", "faults", "scale", "bulk", "certificates", "mail")


def run(argv: list[str]) -> int:
    name = argv[0] if argv and argv[0] in BENCHMARKS else "report"
    rest = argv[1:] if argv and argv[0] in BENCHMARKS else argv
    if name == "faults":
        from bench import faults_bench

        return faults_bench.main(rest)
    if name == "bulk":
        from bench import bulk_bench

        return bulk_bench.main(rest)
    if name == "certificates":
        from bench import certificate_bench

        return certificate_bench.main(rest)
    if name == "mail":
        from bench import mail_bench

        return mail_bench.main(rest)
    if name == "scale":
        from bench import scale_bench

        return scale_bench.main(rest)
    if name == "fanout":
        from bench import fanout_bench

        fanout_bench.main(rest)
        return 0
    from bench import report_bench

    return report_bench.main(rest)


sys.exit(run(sys.argv[1:]))
