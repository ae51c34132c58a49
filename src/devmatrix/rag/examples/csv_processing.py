# id: csv_processing
# title: Process CSV files with csv.DictReader and DictWriter
# topic: file_io
# tags: csv, DictReader, DictWriter, file io, aggregation
import csv
import io
from collections import defaultdict


def totals_by_category(source: io.TextIOBase) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in csv.DictReader(source):
        totals[row["category"]] += float(row["amount"])
    return dict(totals)


def write_totals(totals: dict[str, float], target: io.TextIOBase) -> None:
    writer = csv.DictWriter(target, fieldnames=["category", "total"])
    writer.writeheader()
    for category, total in sorted(totals.items()):
        writer.writerow({"category": category, "total": f"{total:.2f}"})


if __name__ == "__main__":
    data = io.StringIO("category,amount\nfood,12.50\nrent,800\nfood,7.25\n")
    totals = totals_by_category(data)
    assert totals == {"food": 19.75, "rent": 800.0}
    out = io.StringIO()
    write_totals(totals, out)
    assert out.getvalue().splitlines() == ["category,total", "food,19.75", "rent,800.00"]
