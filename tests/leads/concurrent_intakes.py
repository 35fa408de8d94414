"""Child process for the concurrency test: N threads submit leads at the same instant against the
shared database and print the assignees as JSON. Run as `python -m tests.leads.concurrent_intakes N PRODUCT_ID`."""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    import django

    django.setup()
    from django.db import connections

    from tests.factories import consented_intake
    from leads.services import lead_intake
    from salesops.models import Product

    count, product_id = int(sys.argv[1]), int(sys.argv[2])
    product = Product.objects.select_related("line").get(pk=product_id)
    barrier = threading.Barrier(count)

    def submit(index: int):
        try:
            barrier.wait()
            data = consented_intake(contact_name=f"并发{index}", phone=f"+8613800002{index:03d}", product=product, product_model=product.model_number, hospital_grade="3A")
            return lead_intake(data=data).lead.assignee_id
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        print(json.dumps(list(pool.map(submit, range(count)))))


if __name__ == "__main__":
    main()
