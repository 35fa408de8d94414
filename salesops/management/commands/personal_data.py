"""P4: answer a person's request.

    python manage.py personal_data export --phone 13957100015 [--out file.json]
    python manage.py personal_data export --contact 42
    python manage.py personal_data erase --phone 13957100015 --yes [--operator ops]

`export` writes everything held on the person as JSON (and logs the export); `erase` pseudonymises
the person everywhere, history included, keeps business records and records the erasure.
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from salesops import privacy
from salesops.imports import normalise_phone


class Command(BaseCommand):
    help = "导出或删除（匿名化）某个人的全部个人信息（P4）"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "erase"])
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--phone", help="电话（任意常见写法）")
        who.add_argument("--contact", type=int, help="联系人编号")
        parser.add_argument("--out", help="导出文件路径（默认输出到屏幕）")
        parser.add_argument("--operator", help="执行人账号（写入访问日志/删除记录）")
        parser.add_argument("--reason", default="本人请求", help="删除依据")
        parser.add_argument("--yes", action="store_true", help="确认删除（不可撤销）")

    def handle(self, *args, action, phone=None, contact=None, out=None, operator=None, reason="", yes=False, **options):
        by = None
        if operator:
            by = get_user_model().objects.filter(username=operator).first()
            if by is None:
                raise CommandError(f"没有账号 {operator}")
        if phone:
            normalised = normalise_phone(phone)
            if normalised is None:
                raise CommandError(f"不是有效的电话：{phone}")
            phone = normalised
        if action == "export":
            document = privacy.personal_data_export(phone=phone or "", contact_id=contact, by=by)
            text = json.dumps(document, ensure_ascii=False, indent=1)
            if out:
                with open(out, "w", encoding="utf-8") as handle:
                    handle.write(text)
                self.stdout.write(f"已导出 {sum(len(rows) for rows in document['records'].values())} 条记录到 {out}")
            else:
                self.stdout.write(text)
            return
        if not yes:
            raise CommandError("删除不可撤销：确认请加 --yes")
        record = privacy.personal_data_erase(phone=phone or "", contact_id=contact, by=by, reason=reason)
        self.stdout.write(f"已匿名化：{json.dumps(record.counts, ensure_ascii=False)}（删除记录 #{record.pk}）")
