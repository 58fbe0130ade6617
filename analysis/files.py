"""CSV tables and file names for the figures."""

import csv
import re


def write_csv(path, columns, rows):
    """Write rows (sequences in the order of columns) to a CSV file.

    Floats are written with repr, so inf reads back as inf and no digits are
    lost.
    """
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)


def file_part(text):
    """Return text with every character outside [A-Za-z0-9._-] replaced by _."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(text))
