"""Perf metrics on hand-made timelines, SSE parsing, arrivals, ceilings and run comparison."""

import struct

import pytest

from slmbench.errors import SlmbenchError
from slmbench.perf.limit import Hardware, ModelGeometry, ceilings, gguf_geometry
from slmbench.perf.load import arrivals
from slmbench.perf.report import bootstrap_diff, compare
from slmbench.perf.stats import SLO, RequestRecord, parse_list, parse_slo, summarize
from slmbench.sse import SSEParser


def record(i, ttft, chunks, out, prompt=10, error=None, chunk_tokens=None):
    r = RequestRecord(i, start=0.0, ttft=ttft, e2e=chunks[-1] if chunks else None, chunk_times=chunks,
                      prompt_tokens=prompt, output_tokens=out, chunk_tokens=chunk_tokens, error_kind=error)  # fmt: skip
    return r


def test_tpot_itl_and_e2e_follow_vllm_definitions():
    # First content at 100 ms, then chunks at 150, 250, 300 ms; 5 output tokens (one chunk carried two).
    r = record(0, 0.100, [0.100, 0.150, 0.250, 0.300], out=5, chunk_tokens=[1, 2, 1, 1])
    assert r.e2e == 0.300
    assert r.tpot == pytest.approx((0.300 - 0.100) / 4)
    assert r.itl == pytest.approx([0.050, 0.100, 0.050])
    assert r.multi_token_chunks == 1
    assert record(1, 0.1, [0.1], out=1).tpot is None  # one token: no time per output token


def test_summary_counts_throughput_goodput_and_percentiles():
    records = [
        record(0, 0.1, [0.1, 0.2, 0.3], out=3),  # TTFT 100 ms, TPOT 100 ms
        record(1, 0.6, [0.6, 0.62, 0.64], out=3),  # TTFT 600 ms, TPOT 20 ms
        record(2, 0.2, [0.2, 0.21, 0.22], out=3),  # meets both
        record(3, None, [], out=None, error="dropped"),
        record(4, None, [], out=None, error="connection"),
    ]
    s = summarize(records, duration_s=2.0, slo=SLO(ttft_ms=500, tpot_ms=50))
    assert s["requests"] == {"completed": 3, "failed": 2, "errors": {"dropped": 1, "connection": 1}}
    assert s["output_tokens"] == 9 and s["input_tokens"] == 30
    assert s["request_throughput"] == pytest.approx(1.5)
    assert s["output_throughput"] == pytest.approx(4.5)
    assert s["total_token_throughput"] == pytest.approx(19.5)
    assert s["slo_met"] == 1 and s["goodput"] == pytest.approx(0.5)
    assert s["ttft_ms"]["median"] == pytest.approx(200) and s["ttft_ms"]["max"] == pytest.approx(600)
    assert s["ttft_ms"]["p90"] == pytest.approx(520)  # linear interpolation between 200 and 600
    assert s["tpot_ms"]["mean"] == pytest.approx((100 + 20 + 10) / 3)
    assert s["itl_ms"]["n"] == 6 and s["chunks"] == 9 and s["tokens_beyond_chunks"] == 0
    assert s["multi_token_chunks"] is None  # no per-chunk counts: unknown, not zero


def test_tokens_beyond_chunks_reveal_bundled_tokens_without_per_chunk_counts():
    s = summarize([record(0, 0.1, [0.1, 0.2], out=6)], duration_s=1.0)
    assert s["tokens_beyond_chunks"] == 4 and s["goodput"] is None


def test_sse_parser_handles_split_bytes_crlf_comments_and_multiline_data():
    p = SSEParser()
    assert p.feed(b'data: {"a"') == []
    assert p.feed(b": 1}\r\n\r\n: keep-alive\n\ndata: x\ndata: y\n\nevent: ping\nda") == [b'{"a": 1}', b"x\ny"]
    assert p.feed(b"ta:[DONE]\n\n") == [b"[DONE]"]
    assert p.feed(b"data: tail") == [] and p.close() == [b"tail"]


def test_arrivals_have_the_requested_mean_rate_and_burstiness_spreads_them():
    poisson = arrivals(10.0, 4000, 1.0, seed=1)
    assert poisson == sorted(poisson)
    assert 4000 / poisson[-1] == pytest.approx(10.0, rel=0.05)
    gaps = lambda t: [b - a for a, b in zip([0.0] + t, t)]  # noqa: E731
    cv = lambda g: (sum((x - sum(g) / len(g)) ** 2 for x in g) / len(g)) ** 0.5 / (sum(g) / len(g))  # noqa: E731
    assert cv(gaps(poisson)) == pytest.approx(1.0, abs=0.08)  # exponential gaps: CV 1
    assert cv(gaps(arrivals(10.0, 4000, 0.25, seed=1))) == pytest.approx(2.0, abs=0.25)  # gamma k: CV 1/sqrt(k)
    assert arrivals(10.0, 50, 1.0, seed=3) == arrivals(10.0, 50, 1.0, seed=3)


def test_decode_ceiling_is_bandwidth_over_bytes_per_step():
    g = ModelGeometry("m", params=1_000_000_000, weight_bytes=1_000_000_000, layers=10, kv_heads=2, head_dim=64)
    assert g.kv_bytes_per_token == 2 * 10 * 2 * 64 * 2
    hw = Hardware(bandwidth_bytes_s=10e9, dram_bandwidth_bytes_s=None, peak_flops=1e12, threads=2, source="test")
    one = ceilings(g, hw, concurrency=1, context=0, prompt_tokens=100)
    assert one["decode_tokens_per_s"] == pytest.approx(10.0)  # 10 GB/s over 1 GB of weights
    assert one["prefill_tokens_per_s"] == pytest.approx(500.0)  # 1e12 / (2 x 1e9)
    assert one["ttft_floor_ms"] == pytest.approx(200.0)
    four = ceilings(g, hw, concurrency=4, context=1000, prompt_tokens=100)
    assert four["decode_tokens_per_s"] == pytest.approx(4 * 10e9 / (1e9 + 4 * 1000 * 5120))


def _gguf(path, kv, tensors):
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, (kind, value) in kv.items():
        out += s(key) + struct.pack("<I", kind)
        if kind == 8:
            out += s(value)
        elif kind == 9:  # an array of u32
            out += struct.pack("<IQ", 4, len(value)) + struct.pack(f"<{len(value)}I", *value)
        else:
            out += struct.pack({4: "<I", 6: "<f"}[kind], value)
    for name, dims in tensors:
        out += s(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", 0, 0)
    path.write_bytes(out + b"\0" * 64)


def test_gguf_geometry_reads_the_header(tmp_path):
    path = tmp_path / "m.gguf"
    kv = {
        "general.architecture": (8, "llama"), "general.file_type": (4, 15), "tokenizer.ggml.scores": (9, [1, 2, 3]),
        "llama.block_count": (4, 36), "llama.attention.head_count": (4, 32), "llama.attention.head_count_kv": (4, 8),
        "llama.embedding_length": (4, 4096), "llama.rope.freq_base": (6, 1e6),
    }  # fmt: skip
    _gguf(path, kv, [("a", [4096, 10]), ("b", [7])])
    g = gguf_geometry(path)
    assert (g.layers, g.kv_heads, g.head_dim, g.params, g.quantisation) == (36, 8, 128, 40967, "Q4_K_M")
    assert g.weight_bytes == path.stat().st_size
    (tmp_path / "bad.gguf").write_bytes(b"GGUF\x03\x00")
    with pytest.raises(SlmbenchError, match="cannot read the model geometry"):
        gguf_geometry(tmp_path / "bad.gguf")


def test_slo_and_list_flags_parse_or_fail_in_one_line():
    assert parse_slo(["ttft:500 tpot:50"]) == SLO(ttft_ms=500, tpot_ms=50)
    assert parse_slo(["ttft:500", "e2e:2000"]) == SLO(ttft_ms=500, e2e_ms=2000)
    assert parse_list("1, 2,4", int, "--concurrency") == [1, 2, 4]
    for bad in (["ttft=500"], ["speed:3"], ["ttft:-1"]):
        with pytest.raises(SlmbenchError, match="--slo"):
            parse_slo(bad)
    with pytest.raises(SlmbenchError, match="--concurrency"):
        parse_list("1,two", int, "--concurrency")


def _run(ttfts, tput):
    recs = [{"ttft_s": t, "tpot_s": 0.01, "e2e_s": t + 1, "error_kind": None} for t in ttfts]
    return {
        "points": [
            {
                "key": "c=1",
                "repeats": [{"records": recs, "output_throughput": x, "request_throughput": x / 10} for x in tput],
            }
        ]
    }


def test_compare_reports_differences_with_bootstrap_intervals():
    a = _run([0.100 + 0.001 * i for i in range(30)], [50.0, 52.0, 51.0])
    b = _run([0.200 + 0.001 * i for i in range(30)], [50.5, 51.5, 51.0])
    rows = {r["metric"]: r for r in compare(a, b)}
    ttft = rows["TTFT ms (median)"]
    assert ttft["diff"] == pytest.approx(100.0) and ttft["significant"] is True
    assert ttft["ci_low"] <= 100.0 <= ttft["ci_high"]
    assert rows["output tok/s (mean of repeats)"]["significant"] is False
    assert bootstrap_diff([1.0], [2.0])["ci_low"] is None  # one value a side: no interval
    with pytest.raises(SlmbenchError, match="share no point"):
        compare(a, {"points": [{"key": "c=8", "repeats": []}]})


def test_a_weights_probe_slower_than_the_1_gib_probe_is_noise_and_the_faster_figure_is_the_ceiling(monkeypatch):
    from slmbench.perf import limit

    measured = iter([9.3e9, 19.0e9])  # weights-sized probe first, then 1 GiB: as a noisy run measured
    monkeypatch.setattr(limit, "measure_bandwidth", lambda *a, **k: next(measured))
    monkeypatch.setattr(limit, "measure_flops", lambda: 2.5e11)
    hw = limit.host_hardware(250 << 20, threads=2)
    assert hw.bandwidth_bytes_s == 19.0e9 and hw.dram_bandwidth_bytes_s == 19.0e9
    assert "read 9.3 GB/s, below the 1 GiB probe" in hw.source
    measured = iter([30.0e9, 19.0e9])  # the usual case: the smaller set reads faster and is kept
    hw = limit.host_hardware(250 << 20, threads=2)
    assert hw.bandwidth_bytes_s == 30.0e9 and "below" not in hw.source
