"""Benchmark backup, verify and restore against data size: 1k and 100k rows, 1k and 10k vectors.

Runs on a scratch stack (own state dir, free ports) so the real stack and its
data are never touched. Results go to docs/benchmarks.md.
Usage: python benchmarks/bench_backup.py
"""

from __future__ import annotations

import random
import shutil
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extras

from devmatrix import backup, clients
from devmatrix.backup.chroma import ChromaHTTP
from devmatrix.bench_report import write_section
from devmatrix.checks.validate import run_validation
from devmatrix.config import load_settings
from devmatrix.setup import db, git
from devmatrix.stack.native import NativeProvider
from devmatrix.stack.system import free_port

ROOT = Path(".devmatrix/bench") / f"backup-{uuid.uuid4().hex[:8]}"  # devmatrix-pg can reach it
SIZES = [(1_000, 1_000, 1_000), (100_000, 10_000, 10_000)]  # rows, vectors, redis keys
DIM = 384


def wipe(settings) -> None:
    conn = psycopg2.connect(**settings.postgres_dsn_params)
    with conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE code_generation_logs, workflows, workflow_tasks RESTART IDENTITY")
    conn.close()
    client = clients.redis_client(settings)  # with REDIS_PASSWORD, as every client of the stack
    client.flushall()
    client.close()
    with ChromaHTTP(settings.chroma_url) as chroma:
        for collection in chroma.collections():
            chroma.delete(collection["name"])


def load(settings, rows: int, vectors: int, keys: int) -> None:
    rng = random.Random(rows)  # noqa: S311 - test data, not secrets
    conn = psycopg2.connect(**settings.postgres_dsn_params)
    with conn, conn.cursor() as cursor:
        psycopg2.extras.execute_values(
            cursor, "INSERT INTO code_generation_logs (workspace_id, user_request, generated_code,"
            " approval_status, quality_score, input_tokens, output_tokens) VALUES %s",
            [(f"bench-{i % 50}", f"request {i}", f"def f{i}():\n    return {i}\n" * 5, "approved",
              rng.random(), 100 + i % 400, 200 + i % 800) for i in range(rows)], page_size=5000)
    conn.close()
    client = clients.redis_client(settings)
    pipe = client.pipeline(transaction=False)
    for i in range(keys):
        pipe.set(f"devmatrix:bench:{i}", "x" * 200)
    pipe.execute()
    client.close()
    with ChromaHTTP(settings.chroma_url) as chroma:
        collection_id = chroma.create("bench_examples", {"hnsw:space": "cosine"}, None)
        for start in range(0, vectors, 1000):
            n = min(1000, vectors - start)
            chroma.add(collection_id, {
                "ids": [f"v{start + i}" for i in range(n)],
                "embeddings": [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(n)],
                "documents": [f"def example_{start + i}(): pass" for i in range(n)],
                "metadatas": [{"i": start + i, "language": "python"} for i in range(n)],
            })


def measure(settings, provider, rows: int, vectors: int, keys: int) -> dict:
    wipe(settings)
    load(settings, rows, vectors, keys)
    start = time.perf_counter()
    report = backup.create_backup(settings, keep=1)
    backup_s = time.perf_counter() - start
    verify = {r.name: r for r in backup.verify_backup(settings, report.path)}
    assert all(not r.failed for r in verify.values()), [r.detail for r in verify.values() if r.failed]
    wipe(settings)
    start = time.perf_counter()
    steps = {r.name: r for r in backup.restore_backup(settings, report.path, confirmed=True, provider=provider,
                                                            then=run_validation)}
    restore_s = time.perf_counter() - start
    for name in ("postgres", "redis", "chroma"):
        assert not steps[name].failed, steps[name].detail
    files = report.manifest["files"]
    return {"rows": rows, "vectors": vectors, "keys": keys, "backup_s": backup_s, "restore_s": restore_s,
            "mb": sum(f["bytes"] for f in files.values()) / 1e6,
            "verify": {n: r.seconds for n, r in verify.items()},
            # restore.run times its two phases: staging every store (reported on the postgres
            # row) and swapping them in, Redis restart included (on the redis row)
            "stage_s": steps["postgres"].seconds, "swap_s": steps["redis"].seconds,
            "validate_s": sum(r.seconds for n, r in steps.items() if n.startswith("validate"))}


def main() -> None:
    ROOT.mkdir(parents=True)
    settings = load_settings().model_copy(update={
        "devmatrix_provider": "native", "devmatrix_state_dir": (ROOT / "state").resolve(),
        "postgres_port": free_port(), "redis_port": free_port(), "chromadb_port": free_port(),
        "workspace_dir": (ROOT / "workspace_test").resolve(), "backup_dir": (ROOT / "backups").resolve(),
    })
    provider = NativeProvider(settings, env_file=ROOT / ".env.test", echo=lambda _: None)
    try:
        provider.up(("postgres", "redis", "chroma"))
        db.setup_database(settings)
        git.init_workspace(settings)
        results = [measure(settings, provider, *size) for size in SIZES]
    finally:
        provider.down()
        shutil.rmtree(ROOT, ignore_errors=True)

    rows = ["| rows | vectors (384-d) | Redis keys | backup size (MB) | `backup` (s) | verify pg / redis / chroma (s)"
            " | restore: stage all / swap in (s) | restore total incl. validate (s) |",
            "| ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |"]
    for r in results:
        v = r["verify"]
        rows.append(f"| {r['rows']:,} | {r['vectors']:,} | {r['keys']:,} | {r['mb']:.1f} | {r['backup_s']:.2f} |"
                    f" {v['postgres']:.2f} / {v['redis']:.2f} / {v['chroma']:.2f} |"
                    f" {r['stage_s']:.2f} / {r['swap_s']:.2f} | {r['restore_s']:.2f} |")
    body = f"""
Scratch stack (own state dir and ports), provider native, Python API (no interpreter start-up).
`backup` = pg_dump in one snapshot + BGSAVE/copy/redis-check-rdb + Chroma export + sha256 of every
file. Verify restores into a scratch database / redis-server / Chroma server. Restore stages
every store beside the live one (a restored database, the RDB, each collection imported under
another name), swaps them in (database rename, Redis restarted on the RDB, collection renames),
deletes the old copies, then runs validate.

{chr(10).join(rows)}
"""
    write_section("backup", "Backup, verify and restore against data size", body)
    print(body)


if __name__ == "__main__":
    main()
