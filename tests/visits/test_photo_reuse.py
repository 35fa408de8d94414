"""F4: reuse found at a 5 % crop, a 2° rotation and screenshot padding on real phone and camera
photos, with no false match among the demo's distinct photos; decoding cost bounded."""

import io
import itertools
import random

import pytest
from django.utils import timezone
from PIL import Image

from visits import media, photo_index, services
from visits.models import ModuleKind
from visits.samples import make_photo

from ..factories import CustomerFactory
from .factories import data_file as read_data
from .factories import upload
from .test_authenticity import module_of

REAL = ["gps_DSCN0010.jpg", "gps_DSCN0021.jpg", "gps_DSCN0040.jpg", "iphone6_hdr_NO.jpg", "jolla_phone.jpg", "Nikon_D70.jpg", "orientation_landscape_6.jpg"]
LIMIT = 72  # VISITS_PHASH_WIDE_MAX_DISTANCE's default


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def copies(data: bytes) -> dict[str, bytes]:
    """How a rep reuses an old photo: crop 5 % off one side, straighten by 2°, screenshot it."""
    image = Image.open(io.BytesIO(data))
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image).convert("RGB")
    width, height = image.size
    padded = Image.new("RGB", (width, int(width * 2.16)), (255, 255, 255))
    padded.paste(image, (0, (padded.height - height) // 2))
    return {
        "crop 5%": jpeg(image.crop((int(width * 0.05), 0, width, height))),
        "rotate 2°": jpeg(image.rotate(2, resample=Image.Resampling.BICUBIC)),
        "screenshot padding": jpeg(padded),
    }


@pytest.fixture
def data_file():
    return read_data


def wide(data: bytes) -> str:
    return media.inspect_photo(data).phash_wide


@pytest.mark.parametrize("name", REAL)
def test_a_cropped_rotated_or_padded_copy_stays_within_the_limit(data_file, name):
    """F4: each altered copy of a real photo is within the reuse limit of the original."""
    original = wide(data_file(name))
    distances = {kind: media.hamming(original, wide(copy)) for kind, copy in copies(data_file(name)).items()}
    assert all(distance <= LIMIT for distance in distances.values()), distances


def test_no_false_match_among_distinct_photos(data_file):
    """F4: the demo's distinct door photos (as visits.demo makes them) and the real photos never
    come within the limit of each other."""
    rng = random.Random(7)
    demo = [make_photo(seed=f"pool-{i}", text=rng.choice(["骨科", "关节外科", "脊柱外科", "创伤骨科"]), size=(640, 480)) for i in range(24)]
    demo += [make_photo(seed=f"{i}-2026-11-0{1 + i % 9}", text="骨科", size=(640, 480)) for i in range(60)]
    hashes = [wide(data) for data in demo] + [wide(data_file(name)) for name in REAL]
    closest = min(media.hamming(a, b) for a, b in itertools.combinations(hashes, 2))
    assert closest > LIMIT


def test_the_index_finds_the_nearest_earlier_photo_and_skips_the_same_task():
    """F4: the in-memory index (XOR + popcount) returns candidates within the limit, nearest first."""
    index = photo_index.PhotoIndex()
    base = random.Random(1).getrandbits(256)
    near = base ^ 0b1011  # 3 bits away
    index.add([(1, 10, f"{random.Random(2).getrandbits(256):064x}"), (2, 11, f"{near:064x}"), (3, 12, f"{base:064x}")])
    found = index.nearest(f"{base:064x}", exclude_task=None, limit=LIMIT)
    assert [(c.evidence_id, c.distance) for c in found] == [(3, 0), (2, 3)]
    assert [c.evidence_id for c in index.nearest(f"{base:064x}", exclude_task=12, limit=LIMIT)] == [2]


@pytest.mark.django_db
def test_a_cropped_copy_uploaded_on_another_visit_is_flagged(data_file, task, bob, medical):
    """F4 through the service: bob uploads a 5 %-cropped copy of alice's earlier photo."""
    services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=upload("a.jpg", data_file("iphone6_hdr_NO.jpg")), by=task.rep)
    other = services.visit_task_create(rep=bob, customer=CustomerFactory(owner=bob), template=medical, due_date=timezone.localdate(), by=bob)
    repeat = services.evidence_add(task=other, module=module_of(other, ModuleKind.PHOTO), upload=upload("b.jpg", copies(data_file("iphone6_hdr_NO.jpg"))["crop 5%"]), by=bob)
    flag = next(f for f in repeat.flags if f["code"] == "repeat_photo")
    assert flag["task_id"] == task.pk and flag["hamming"] <= LIMIT and repeat.crop_hash


def test_a_lossless_image_over_the_decode_budget_is_refused_before_decoding():
    """F4: a 6,000×6,000 PNG (36 MP, under the 60 MP camera cap) would be decoded in full —
    refused by the lossless budget with a message saying what to do."""
    buffer = io.BytesIO()
    Image.new("L", (6000, 6000)).save(buffer, "PNG")
    with pytest.raises(media.FileRejected) as refused:
        media.inspect_photo(buffer.getvalue())
    assert "6000×6000" in refused.value.message and "请用手机相机" in refused.value.message
