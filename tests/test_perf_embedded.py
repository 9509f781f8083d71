"""`slmbench perf` against the real embedded llama.cpp server (marked `model`).

Margins (stated, and loose because this 2-core host is shared and timings are noisy):
at concurrency 1 the client's TTFT holds the server's own prompt time plus at most
max(250 ms, 25%) of queueing and transport, and the client's TPOT is within 25% of the
server's per-token decode time.
"""

import json
import sqlite3

import pytest
from helpers import db_path, run_cli

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("perf")
    result = run_cli("perf", "-m", "gemma-3-270m", "--concurrency", "1,2", "--requests", "3", "--input-len", "32", "--output-len", "12",
                     "--slo", "ttft:60000 tpot:5000", "--out", str(out), timeout=1200)  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = (out / "latest").resolve()
    return result, out, json.loads((run_dir / "perf.json").read_text())


def test_sweep_prints_the_table_and_lands_in_the_store(sweep):
    result, out, data = sweep
    assert "c=1 in=32" in result.stdout and "c=2 in=32" in result.stdout and "% of limit" in result.stdout
    assert data["status"] == "complete"
    for p in data["points"]:
        pooled = p["pooled"]
        assert pooled["requests"] == {"completed": 3, "failed": 0, "errors": {}}
        records = p["repeats"][0]["records"]
        assert {r["prompt_tokens"] for r in records} == {32}  # exact length via /tokenize
        assert {r["output_tokens"] for r in records} == {12}  # ignore_eos
        assert all(r["multi_token_chunks"] is not None for r in records)  # llama.cpp per-token timings
    m = data["manifest"]
    assert m["model"]["server"].startswith("llama.cpp ") and m["model"]["quantisation"] == "Q4_K_M"
    assert "--metrics" in m["model"]["command"] and m["geometry"]["layers"] == 18
    db = sqlite3.connect(db_path(out))
    assert db.execute("SELECT count(*) FROM perf_requests WHERE run_id = ?", (data["run_id"],)).fetchone()[0] == 6
    assert db.execute("SELECT status FROM runs WHERE id = ?", (data["run_id"],)).fetchone()[0] == "complete"


def test_client_timings_agree_with_the_servers_own(sweep):
    _, _, data = sweep
    s = data["points"][0]["repeats"][0]["server"]  # concurrency 1: no queueing between requests
    assert s["requests_with_timings"] == 3
    assert s["server_prompt_ms"] <= s["client_ttft_ms"] + 5
    assert s["ttft_gap_ms"] <= max(250.0, 0.25 * s["client_ttft_ms"])
    assert abs(s["client_tpot_ms"] - s["server_tpot_ms"]) <= 0.25 * s["server_tpot_ms"]
    assert s["metrics_delta"]["llamacpp:tokens_predicted_total"] >= 3 * 12  # /metrics saw the point's work


def test_throughput_at_concurrency_1_is_below_the_bandwidth_ceiling(sweep):
    _, _, data = sweep
    limit = data["points"][0]["limit"]
    assert limit is not None and limit["decode_tokens_per_s"] > 0
    assert 0 < limit["output_throughput_pct"] < 100
    assert 0 < limit["decode_pct"] < 100
    assert data["manifest"]["hardware"]["measured"]["bandwidth_bytes_s"] > 1e8
