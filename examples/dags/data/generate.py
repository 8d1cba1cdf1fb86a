#!/usr/bin/env python3
"""Generate the sample data of the user_training_set example DAG.

Writes, next to this script:

  events/2026-01-10.csv ... events/2026-01-16.csv
      event_id,user_id,amount,country,event_ts   (one file per UTC day)
  labels.csv
      user_id,label_date,churned

The output is deterministic (fixed seed, only random.Random.random() is used,
LF line endings), so running the script again reproduces the committed files
byte for byte. `python3 generate.py --check` verifies that without writing.

The data is small but shaped like the real thing:
  * 250 users with very different activity levels; a few are so quiet that
    they fall under the DAG's min_events threshold.
  * Users who churn fade out over the week, so the features carry a signal.
  * Every day has a handful of deliberately bad rows that clean_events must
    drop: a negative amount, a non-numeric amount, an empty user_id, a
    malformed country code, and a replayed (exactly duplicated) event.
"""

import datetime as dt
import math
import os
import random
import sys

SEED = 20260110
FIRST_DAY = dt.date(2026, 1, 10)
DAYS = 7                                  # 2026-01-10 .. 2026-01-16
N_USERS = 250
EVENTS_PER_DAY = 350                      # on average, before bad rows
LABEL_DATE = dt.date(2026, 1, 16)         # most users are labelled on this day
EARLY_LABEL_DATE = dt.date(2026, 1, 15)   # a subset also has a label on this day
EARLY_LABEL_SHARE = 0.6
UNLABELLED_SHARE = 0.04

COUNTRIES = [("US", 30), ("DE", 14), ("GB", 12), ("FR", 10), ("NL", 6),
             ("ES", 6), ("IT", 5), ("PL", 4), ("SE", 3), ("BR", 4),
             ("IN", 3), ("JP", 2), ("CA", 1)]
BAD_COUNTRIES = ["germany", "usa", "U.S.", "de", "FRA", ""]

HERE = os.path.dirname(os.path.abspath(__file__))


class Rand:
    """Only random.Random.random() is used: it is stable across Python 3 versions."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def uniform(self):
        return self.r.random()

    def below(self, n):
        return min(int(self.r.random() * n), n - 1)

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def weighted(self, pairs):
        total = sum(w for _, w in pairs)
        x = self.r.random() * total
        for value, w in pairs:
            x -= w
            if x < 0:
                return value
        return pairs[-1][0]

    def normal(self):
        # Box-Muller
        u1 = max(self.r.random(), 1e-12)
        u2 = self.r.random()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def poisson(self, lam):
        # Knuth; fine for the small rates used here
        limit = math.exp(-lam)
        k, p = 0, 1.0
        while True:
            p *= self.r.random()
            if p <= limit:
                return k
            k += 1


def make_users(rng):
    users = []
    for i in range(1, N_USERS + 1):
        quiet = rng.uniform() < 0.06
        activity = 0.15 + 0.2 * rng.uniform() if quiet else math.exp(0.7 * rng.normal())
        # Quieter users churn more often.
        p_churn = 0.55 if quiet else 0.12 + 0.3 / (1.0 + activity)
        churner = rng.uniform() < p_churn
        users.append({
            "id": "u%04d" % i,
            "home": rng.weighted(COUNTRIES),
            "traveller": rng.uniform() < 0.2,
            "activity": activity,
            "churner": churner,
            "spend": math.exp(3.0 + 0.5 * rng.normal()),   # typical basket, ~20-40
        })
    # Scale so that the week averages EVENTS_PER_DAY good events a day.
    weekly = sum(u["activity"] * sum(fade(u, d) for d in range(DAYS)) for u in users)
    for u in users:
        u["rate"] = u["activity"] * EVENTS_PER_DAY * DAYS / weekly
    return users


def fade(user, day_index):
    """Churners fade out over the week; everyone else stays steady."""
    return max(0.1, 1.0 - 0.1 * day_index) if user["churner"] else 1.0


def fmt_ts(day, seconds):
    t = dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def country_for(rng, user):
    p_away = 0.35 if user["traveller"] else 0.03
    if rng.uniform() < p_away:
        return rng.weighted(COUNTRIES)
    return user["home"]


def day_events(rng, users, day_index):
    day = FIRST_DAY + dt.timedelta(days=day_index)
    weekend = day.weekday() >= 5
    rows = []
    for u in users:
        rate = u["rate"] * fade(u, day_index) * (1.05 if weekend else 1.0)
        for _ in range(rng.poisson(rate)):
            amount = u["spend"] * math.exp(0.6 * rng.normal())
            rows.append({
                "user_id": u["id"],
                "amount": "%.2f" % amount,
                "country": country_for(rng, u),
                "seconds": rng.below(86400),
            })
    rows.sort(key=lambda r: (r["seconds"], r["user_id"]))
    for seq, r in enumerate(rows, 1):
        r["event_id"] = "ev%s-%05d" % (day.strftime("%Y%m%d"), seq)
        r["event_ts"] = fmt_ts(day, r["seconds"])

    # Deliberately bad rows: each is a copy of a good event with one defect,
    # with its own new event id, except the replay which repeats an event id.
    seq = len(rows)

    def broken(**changes):
        nonlocal seq
        seq += 1
        r = dict(rng.pick(rows))
        r["event_id"] = "ev%s-%05d" % (day.strftime("%Y%m%d"), seq)
        r.update(changes)
        return r

    bad = [
        broken(amount="-%.2f" % (5 + 90 * rng.uniform())),          # negative amount
        broken(user_id=""),                                         # empty user id
        broken(country=rng.pick(BAD_COUNTRIES)),                    # malformed country
        dict(rng.pick(rows)),                                       # replayed event
    ]
    if day_index % 2 == 0:
        bad.append(broken(amount=rng.pick(["n/a", "", "12,50"])))   # non-numeric amount
    if day_index % 3 == 1:
        bad.append(broken(country=rng.pick(BAD_COUNTRIES)))
        bad.append(dict(rng.pick(rows)))
    for r in bad:
        rows.insert(rng.below(len(rows) + 1), r)
    return day, rows


def csv_field(value):
    """RFC 4180 quoting, only where needed (e.g. the amount "12,50")."""
    if any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(path, header, lines, check, problems):
    text = header + "\n" + "".join(line + "\n" for line in lines)
    data = text.encode("utf-8")
    if check:
        try:
            with open(path, "rb") as f:
                if f.read() != data:
                    problems.append(path + " differs")
        except FileNotFoundError:
            problems.append(path + " is missing")
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print("wrote %s (%d rows)" % (os.path.relpath(path, HERE), len(lines)))


def main(argv):
    check = "--check" in argv[1:]
    rng = Rand(SEED)
    users = make_users(rng)
    problems = []

    for i in range(DAYS):
        day, rows = day_events(rng, users, i)
        lines = [",".join(csv_field(r[k]) for k in
                          ("event_id", "user_id", "amount", "country", "event_ts"))
                 for r in rows]
        write_csv(os.path.join(HERE, "events", day.isoformat() + ".csv"),
                  "event_id,user_id,amount,country,event_ts", lines, check, problems)

    labels = []
    for u in users:
        if rng.uniform() < UNLABELLED_SHARE:
            continue
        # The label is the latent churn flag with a little noise.
        churned = u["churner"] != (rng.uniform() < 0.08)
        if rng.uniform() < EARLY_LABEL_SHARE:
            labels.append("%s,%s,%d" % (u["id"], EARLY_LABEL_DATE.isoformat(), churned))
        labels.append("%s,%s,%d" % (u["id"], LABEL_DATE.isoformat(), churned))
    write_csv(os.path.join(HERE, "labels.csv"), "user_id,label_date,churned",
              labels, check, problems)

    if check:
        for p in problems:
            print("generate.py --check: " + p, file=sys.stderr)
        if problems:
            return 1
        print("generate.py --check: all files match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
