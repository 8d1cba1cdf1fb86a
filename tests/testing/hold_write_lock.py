#!/usr/bin/python3
"""Holds the write lock of a SQLite database for a test, as another program's long write
transaction would: BEGIN IMMEDIATE, then "locked" on stdout; the lock is kept until a line (or
the end of input) comes on stdin, then the transaction ends and "released" is printed.

Usage: hold_write_lock.py DATABASE
"""
import sqlite3
import sys


def main():
    db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
    db.execute("COMMIT")
    db.close()
    print("released", flush=True)


if __name__ == "__main__":
    main()
