"""Reference ticks for tests/dags/schedule_test.cc, from croniter (Debian's python3-croniter).

Reads lines "EXPR<TAB>ZONE<TAB>START_EPOCH_MS<TAB>COUNT" on stdin and prints, for each, the next
COUNT ticks after START as epoch milliseconds separated by spaces (one line per input line).
"""
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter


def main() -> None:
    for line in sys.stdin:
        expr, zone, start_ms, count = line.rstrip("\n").split("\t")
        start = datetime.fromtimestamp(int(start_ms) / 1000, tz=timezone.utc)
        it = croniter(expr, start.astimezone(ZoneInfo(zone)))
        ticks = [int(it.get_next(datetime).timestamp() * 1000) for _ in range(int(count))]
        print(" ".join(str(t) for t in ticks))


if __name__ == "__main__":
    main()
