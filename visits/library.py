"""The shipped template library (V1). Installed by a data migration and by the demo seed;
idempotent on the template code. Library originals are read-only: supervisors clone them."""

from __future__ import annotations

NEEDS_CHOICES = [
    "手术量增长",
    "降低耗材成本",
    "集采/带量采购",
    "医保控费",
    "临床效果",
    "供货及时",
    "跟台服务",
    "培训与学术",
    "新术式开展",
    "设备配套",
    "科室扩建",
    "竞品替换",
]

MEDICAL_CODE = "medical-visit"
SOLUTION_DEMO_CODE = "solution-demo"
DEAN_CODE = "dean-visit"

LIBRARY = [
    {
        "code": MEDICAL_CODE,
        "name": "医疗行业拜访包",
        "description": "科室拜访的标准证据：手机现场拍摄的科室门牌照片、签字的《产品试用确认书》扫描件、3 条核心需求；可选语音备忘（自动转文字）。",
        "is_solution_demo": False,
        "modules": [
            {"kind": "photo", "label": "科室门牌照片", "required": True},
            {"kind": "signed_document", "label": "《产品试用确认书》", "required": True},
            {"kind": "needs", "label": "核心需求", "required": True, "needs_count": 3},
            {"kind": "voice_memo", "label": "语音备忘", "required": False},
        ],
    },
    {
        "code": SOLUTION_DEMO_CODE,
        "name": "方案演示拜访包",
        "description": "向科室演示产品方案：现场照片、演示方案 PDF、3 条核心需求；可选签字的《方案演示确认单》与语音备忘。完成计入“方案演示”。",
        "is_solution_demo": True,
        "modules": [
            {"kind": "photo", "label": "演示现场照片", "required": True},
            {"kind": "document", "label": "演示方案（PDF）", "required": True},
            {"kind": "needs", "label": "核心需求", "required": True, "needs_count": 3},
            {"kind": "signed_document", "label": "《方案演示确认单》", "required": False},
            {"kind": "voice_memo", "label": "语音备忘", "required": False},
        ],
    },
    {
        "code": DEAN_CODE,
        "name": "院长拜访包",
        "description": "院领导拜访：院办门牌照片、3 条核心需求、语音备忘（必填）。",
        "is_solution_demo": False,
        "modules": [
            {"kind": "photo", "label": "院办门牌照片", "required": True},
            {"kind": "needs", "label": "核心需求", "required": True, "needs_count": 3},
            {"kind": "voice_memo", "label": "语音备忘", "required": True},
        ],
    },
]


def install_library(VisitTemplate, TemplateModule) -> list:
    """Create the library templates that do not exist yet (model classes are passed in so a data
    migration can use its historical models). Existing originals are never changed."""
    templates = []
    for spec in LIBRARY:
        template, created = VisitTemplate.objects.get_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "description": spec["description"],
                "is_library": True,
                "is_solution_demo": spec["is_solution_demo"],
            },
        )
        if created:
            for position, module in enumerate(spec["modules"], start=1):
                TemplateModule.objects.create(
                    template=template,
                    kind=module["kind"],
                    label=module["label"],
                    required=module["required"],
                    position=position,
                    needs_count=module.get("needs_count", 3),
                    choices=list(NEEDS_CHOICES) if module["kind"] == "needs" else [],
                    free_text_max=10,
                )
        templates.append(template)
    return templates


# T1: which evidence proves a scored behaviour (company policy; directors/ops change it).
DEFAULT_EVIDENCE_POLICY = {
    "needs_diagnosis": ["needs"],
    "solution_demo": ["photo", "document"],
    "dean_visit": ["photo", "voice_memo"],
}


def install_evidence_policy(EvidencePolicy) -> None:
    """Idempotent; takes the model so a migration can pass its historical model."""
    for behaviour, kinds in DEFAULT_EVIDENCE_POLICY.items():
        EvidencePolicy.objects.get_or_create(behaviour=behaviour, defaults={"required_kinds": kinds, "require_exif": True})
