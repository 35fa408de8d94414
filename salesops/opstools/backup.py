"""Backups (O5): one tar archive with the database, the media files and a manifest.

    archive.tar
      manifest.json        format, created_at, database vendor + file, {path: sha256, size} for every member
      manifest.sig         HMAC-SHA256 of manifest.json keyed by SECRET_KEY (a re-hashed forgery fails)
      database.sqlite3     SQLite: the online backup API (consistent while the site keeps writing)
      database.pgdump      PostgreSQL: pg_dump --format=custom
      media/…              every file under MEDIA_ROOT

`restore` extracts into a temporary folder, checks the signature, that the members are exactly the
manifest's and that every SHA-256 matches, and only then replaces the database and writes the media.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile

from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.crypto import salted_hmac

FORMAT = 1
SIG_SALT = "salesops.backup.manifest"


class BackupError(Exception):
    """A message for the operator (Chinese, names the file)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sign(manifest_bytes: bytes) -> str:
    return salted_hmac(SIG_SALT, manifest_bytes, algorithm="sha256").hexdigest()


def _pg_env_args(settings_dict: dict) -> tuple[dict, list[str]]:
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args += [flag, str(settings_dict[key])]
    return env, args + ["--dbname", settings_dict["NAME"]]


def dump_database(alias: str, workdir: Path) -> tuple[str, str]:
    connection = connections[alias]
    vendor = connection.vendor
    if vendor == "sqlite":
        target = workdir / "database.sqlite3"
        source = sqlite3.connect(connection.settings_dict["NAME"])
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
        return vendor, target.name
    if vendor == "postgresql":
        target = workdir / "database.pgdump"
        env, args = _pg_env_args(connection.settings_dict)
        done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *args],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump 失败：{done.stderr.strip()[:500]}")
        return vendor, target.name
    raise BackupError(f"不支持备份的数据库类型：{vendor}")


def create_backup(dest: Path, *, alias: str = "default", media_root: Path | None = None) -> Path:
    media_root = Path(media_root or settings.MEDIA_ROOT)
    dest.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().astimezone().strftime("%Y%m%d-%H%M%S")
    archive = dest / f"salesops-backup-{stamp}.tar"
    with tempfile.TemporaryDirectory(prefix="salesops-backup-") as tmp:
        workdir = Path(tmp)
        vendor, db_file = dump_database(alias, workdir)
        members: list[tuple[Path, str]] = [(workdir / db_file, db_file)]
        if media_root.is_dir():
            for path in sorted(p for p in media_root.rglob("*") if p.is_file() and not p.is_symlink()):
                members.append((path, "media/" + path.relative_to(media_root).as_posix()))
        files = {name: {"sha256": sha256_of(path), "size": path.stat().st_size} for path, name in members}
        manifest = {
            "format": FORMAT,
            "created_at": timezone.now().isoformat(),
            "database": {"vendor": vendor, "file": db_file},
            "files": files,
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        (workdir / "manifest.json").write_bytes(manifest_bytes)
        (workdir / "manifest.sig").write_text(sign(manifest_bytes))
        partial = archive.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(workdir / "manifest.json", arcname="manifest.json")
            tar.add(workdir / "manifest.sig", arcname="manifest.sig")
            for path, name in members:
                tar.add(path, arcname=name, recursive=False)
        os.replace(partial, archive)  # a crash mid-write never leaves a complete-looking archive
    return archive


def verify_archive(archive: Path, into: Path, *, trust_unsigned: bool = False) -> dict:
    """Extract `archive` into `into` and check it; returns the manifest or raises BackupError."""
    if not archive.is_file():
        raise BackupError(f"找不到备份文件：{archive}")
    try:
        with tarfile.open(archive, "r:*") as tar:
            names = []
            for member in tar.getmembers():
                if not (member.isfile() or member.isdir()):
                    raise BackupError(f"备份 {archive.name} 含有不允许的条目（链接或设备）：{member.name}")
                if member.isfile():
                    names.append(member.name)
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"备份 {archive.name} 无法读取（不是完整的 tar 文件）：{exc}") from exc
    manifest_path, sig_path = into / "manifest.json", into / "manifest.sig"
    if not manifest_path.is_file():
        raise BackupError(f"备份 {archive.name} 缺少 manifest.json，拒绝恢复。")
    manifest_bytes = manifest_path.read_bytes()
    signature = sig_path.read_text().strip() if sig_path.is_file() else ""
    if not hmac.compare_digest(signature, sign(manifest_bytes)) and not trust_unsigned:
        raise BackupError(
            f"备份 {archive.name} 的清单签名不符：清单被修改过，或备份来自另一套 SECRET_KEY 的系统。"
            "确认来源可信时可加 --trust-unsigned（仍会逐个核对 SHA-256）。"
        )
    try:
        manifest = json.loads(manifest_bytes)
        files = manifest["files"]
        db_file = manifest["database"]["file"]
        vendor = manifest["database"]["vendor"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"备份 {archive.name} 的 manifest.json 格式不对：{exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"备份 {archive.name} 的格式版本 {manifest.get('format')} 不受支持（需要 {FORMAT}）。")
    present = set(names) - {"manifest.json", "manifest.sig"}
    extra, missing = sorted(present - set(files)), sorted(set(files) - present)
    if extra:
        raise BackupError(f"备份 {archive.name} 含有清单之外的文件：{', '.join(extra[:5])}，拒绝恢复。")
    if missing:
        raise BackupError(f"备份 {archive.name} 缺少清单中的文件：{', '.join(missing[:5])}，拒绝恢复。")
    for name, entry in files.items():
        actual = sha256_of(into / name)
        if actual != entry.get("sha256"):
            raise BackupError(f"备份 {archive.name} 已损坏或被篡改：文件 {name} 的 SHA-256 与清单不符，拒绝恢复。")
    if db_file not in files:
        raise BackupError(f"备份 {archive.name} 不含数据库文件 {db_file}。")
    manifest["_vendor"] = vendor
    return manifest


def restore_backup(archive: Path, *, alias: str = "default", media_root: Path | None = None, trust_unsigned: bool = False) -> dict:
    media_root = Path(media_root or settings.MEDIA_ROOT)
    connection = connections[alias]
    with tempfile.TemporaryDirectory(prefix="salesops-restore-") as tmp:
        into = Path(tmp)
        manifest = verify_archive(archive, into, trust_unsigned=trust_unsigned)
        vendor, db_file = manifest["_vendor"], manifest["database"]["file"]
        if vendor != connection.vendor:
            raise BackupError(f"备份来自 {vendor} 数据库，当前数据库是 {connection.vendor}：不能直接恢复。")
        connection.close()
        if vendor == "sqlite":
            source = sqlite3.connect(into / db_file)
            target = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
            try:
                source.backup(target)  # page by page into the live file (WAL-safe, other readers wait)
            finally:
                target.close()
                source.close()
        else:
            env, args = _pg_env_args(connection.settings_dict)
            done = subprocess.run(
                ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", *args, str(into / db_file)],
                env=env, capture_output=True, text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_restore 失败（数据库未改动）：{done.stderr.strip()[:500]}")
        media_files = [name for name in manifest["files"] if name.startswith("media/")]
        for name in media_files:
            target_path = media_root / name[len("media/") :]
            target_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(into / name, target_path)
    return {"vendor": vendor, "media_files": len(media_files), "created_at": manifest.get("created_at")}


def prune(dest: Path, keep: int) -> list[Path]:
    archives = sorted(dest.glob("salesops-backup-*.tar"))
    old = archives[:-keep] if keep > 0 else []
    for path in old:
        path.unlink()
    return old



