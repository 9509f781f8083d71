"""Planner arithmetic against hand-computed cases, and `slmbench plan` as a user runs it."""

import pytest
from helpers import run_cli

from slmbench import plan as P
from slmbench.errors import SlmbenchError
from slmbench.profiles import get_profile

QWEN = get_profile("qwen3-4b")
GIB = 2**30


def test_qwen3_kv_bytes_per_token_fp16_and_fp8():
    # 2 x 36 layers x 8 KV heads x 128 head_dim = 73,728 elements per token
    assert P.kv_bytes_per_token(QWEN, "auto") == 147_456
    assert P.kv_bytes_per_token(QWEN, "fp8") == 73_728
    assert P.kv_bytes_per_token(QWEN, "q8_0") == 73_728 * 8.5 / 8


@pytest.mark.parametrize(("tokens", "fp16_gib", "fp8_gib"), [(32768, 4.5, 2.25), (131072, 18, 9), (262144, 36, 18)])
def test_qwen3_kv_per_sequence_at_32k_128k_256k(tokens, fp16_gib, fp8_gib):
    assert P.kv_bytes(QWEN, "auto", tokens) == fp16_gib * GIB
    assert P.kv_bytes(QWEN, "fp8", tokens) == fp8_gib * GIB


def test_weights_per_format():
    assert P.weights_bytes(QWEN, P.WEIGHTS["bf16"]) == 8_044_936_192  # 4,022,468,096 x 2 B
    # fp8 quantises the 3.63B layer weights; the tied embedding stays bf16
    assert P.weights_bytes(QWEN, P.WEIGHTS["fp8"]) == 3_633_511_936 + 388_956_160 * 2
    assert P.weights_bytes(QWEN, P.WEIGHTS["awq"]) == 3_633_511_936 * 4.25 / 8 + 388_956_160 * 2
    assert P.weights_bytes(QWEN, P.WEIGHTS["q8_0"]) == 4_022_468_096 * 34 / 32  # 32 weights in 34 bytes
    assert P.weights_bytes(QWEN, P.WEIGHTS["q6_k"]) == 4_022_468_096 * 210 / 256
    assert 2.3e9 < P.weights_bytes(QWEN, P.WEIGHTS["q4_k_m"]) < 2.5e9


def test_rtx4090_bf16_largest_context_by_hand():
    pl = P.plan(P.make_request(QWEN, P.find_gpu("RTX 4090"), context=32768))
    budget = 24564 * 2**20 * 0.9
    overhead = GIB + 8192 * (2 * 9728 + 4 * 2560) * 2 + 256 * 151936 * 4 * 2
    room = budget - 8_044_936_192 - overhead
    assert pl.budget == budget and pl.kv_capacity == pytest.approx(room)
    assert pl.max_context == int(room // 147_456) == 89_959
    assert pl.fits and pl.max_concurrency == int(room // (4.5 * GIB)) == 2


@pytest.mark.parametrize(
    ("kv", "tokens", "fits"), [("auto", 131072, False), ("fp8", 131072, True), ("fp8", 262144, False)]
)
def test_rtx4090_128k_and_256k(kv, tokens, fits):
    assert P.plan(P.make_request(QWEN, P.find_gpu("rtx4090"), kv=kv, context=tokens)).fits is fits


def test_h200_holds_three_256k_sequences_in_bf16():
    pl = P.plan(P.make_request(QWEN, P.find_gpu("h200"), context=262144))
    assert pl.fits and pl.max_context == 262_144
    assert (
        pl.max_concurrency == int((143771 * 2**20 * 0.9 - 8_044_936_192 - sum(pl.overhead.values())) // (36 * GIB)) == 3
    )


def test_cpu_32gb_q4_k_m():
    pl = P.plan(P.make_request(QWEN, P.cpu(32), context=262144))
    assert pl.backend == "llamacpp" and not pl.fits
    assert pl.budget == 32 * GIB * 0.9
    assert pl.max_context == int((32 * GIB * 0.9 - pl.weights_bytes - GIB / 2) // 147_456)
    q8 = P.plan(P.make_request(QWEN, P.cpu(32), kv="q8_0", context=262144))
    assert q8.fits and q8.kv_request == 262144 * 73_728 * 8.5 / 8
    assert q8.command[:7] == ["llama-server", "-m", "Qwen3-4B-Instruct-2507-Q4_K_M.gguf", "-c", "262144", "-np", "1"]
    assert ["-ctk", "q8_0", "-ctv", "q8_0", "-fa", "on"] == q8.command[7:13]
    # decode reads weights + the whole KV per token: 50 GB/s over ~22 GB
    assert q8.decode_tokens_s == pytest.approx(50e9 / (q8.weights_bytes + q8.kv_request))


def test_sliding_window_layers_cap_their_kv():
    gemma = get_profile("gemma-3-270m")
    # 3 global layers hold every token; 15 local layers at most 512
    assert P.kv_bytes(gemma, "f16", 32768) == 2 * 1 * 256 * 2 * (3 * 32768 + 15 * 512)
    assert P.kv_bytes(gemma, "f16", 100) == 2 * 1 * 256 * 2 * 18 * 100


def test_tensor_parallel_splits_weights_and_kv_and_data_parallel_multiplies_sequences():
    llama = get_profile("llama3-8b")
    one = P.plan(P.make_request(llama, P.find_gpu("l4"), context=8192))
    two = P.plan(P.make_request(llama, P.find_gpu("l4"), context=8192, tp=2, dp=2))
    assert two.weights_bytes == one.weights_bytes / 2 and two.kv_per_token == one.kv_per_token / 2
    assert two.max_concurrency % 2 == 0 and two.max_concurrency > 2 * one.max_concurrency
    assert "--tensor-parallel-size" in two.command and "--data-parallel-size" in two.command


def test_vllm_command_from_the_plan():
    pl = P.plan(P.make_request(QWEN, P.find_gpu("a10g"), weights="fp8", kv="fp8", context=65536, utilization=0.85))
    assert pl.command == [
        "vllm", "serve", "Qwen/Qwen3-4B-Instruct-2507", "--max-model-len", "65536", "--gpu-memory-utilization", "0.85",
        "--kv-cache-dtype", "fp8", "--quantization", "fp8", "--served-model-name", "qwen3-4b",
        "--enable-auto-tool-choice", "--tool-call-parser", "hermes", "--port", "8000",
    ]  # fmt: skip


def test_a_plan_that_misses_says_by_how_much_and_what_fits():
    pl = P.plan(P.make_request(QWEN, P.find_gpu("rtx4090"), context=131072))
    message = P.miss_message(pl)
    assert f"misses by {(pl.needed - pl.budget) / GIB:,.2f} GiB" in message
    assert "--context 89088" in message and "--kv-dtype fp8" in message
    assert P.plan(P.make_request(QWEN, P.find_gpu("rtx4090"), context=89088)).fits
    # Weights that cannot fit at all: no context helps; fp8 weights + fp8 KV come before 4-bit.
    mistral = P.plan(P.make_request(get_profile("mistral-7b"), P.find_gpu("rtx3060")))
    assert mistral.max_context == 0 and P.alternatives(mistral)[0] == "--weights fp8 --kv-dtype fp8"


def test_reference_table_verdicts():
    rows = {r.hardware: r for r in P.reference_table(QWEN)}
    assert list(rows) == ["RTX 4090 24 GB", "RTX 3060 12 GB", "CPU 32 GB + 4-bit"]
    r4090 = rows["RTX 4090 24 GB"]
    assert r4090.verdict.startswith("only with awq weights + fp8 KV, utilization 0.95") and "36.00 GiB" in r4090.verdict
    assert "largest context 89,959 tokens" in r4090.arithmetic[1]
    assert rows["RTX 3060 12 GB"].verdict == "32K needs fp8 weights + auto KV; bf16 fits 11,393 tokens"
    cpu = rows["CPU 32 GB + 4-bit"]
    assert cpu.verdict.startswith("supported with Q4_K_M weights + q8_0 KV") and cpu.verdict.endswith("slow")


@pytest.mark.parametrize(("name", "key"), [("RTX 4090", "rtx4090"), ("NVIDIA GeForce RTX 3060", "rtx3060"),
                                           ("a100", "a100-80g"), ("A100 40GB", "a100-40g"), ("H200", "h200")])  # fmt: skip
def test_gpu_names_as_people_write_them(name, key):
    assert P.find_gpu(name).key == key


def test_bad_inputs_are_one_clear_sentence():
    with pytest.raises(SlmbenchError, match="unknown GPU 'rtx4091'; did you mean rtx4090"):
        P.find_gpu("rtx4091")
    with pytest.raises(SlmbenchError, match="on a CPU use a GGUF quant"):
        P.make_request(QWEN, P.cpu(16), weights="awq")
    with pytest.raises(SlmbenchError, match="beyond qwen3-4b's native context of 262,144"):
        P.make_request(QWEN, P.find_gpu("h200"), context=300000)
    with pytest.raises(SlmbenchError, match="not a vllm KV cache type"):
        P.make_request(QWEN, P.find_gpu("h200"), kv="q4_0")
    with pytest.raises(SlmbenchError, match="not a token count"):
        P.parse_tokens("lots")
    assert P.parse_tokens("256K") == 262144 and P.parse_tokens("4096") == 4096


def test_cli_plan_prints_the_arithmetic_and_the_command():
    result = run_cli("plan", "qwen3-4b", "--gpu", "rtx4090", "--context", "32K", "--kv-dtype", "fp8")
    assert result.returncode == 0, result.stderr
    assert "2 x 36 layers x 8 KV heads x 128 head_dim x 1 B = 73,728 B/token" in result.stdout
    assert "vllm serve Qwen/Qwen3-4B-Instruct-2507 --max-model-len 32768" in result.stdout


def test_cli_plan_that_does_not_fit_exits_1_with_one_line():
    result = run_cli("plan", "--gpu", "rtx3060", "--context", "256K")
    assert result.returncode == 1 and "DOES NOT FIT" in result.stdout
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: qwen3-4b (bf16, auto KV)")
    assert "Traceback" not in result.stderr


def test_cli_plan_table():
    result = run_cli("plan", "--table")
    assert result.returncode == 0, result.stderr
    assert 'RTX 4090 24 GB: claim "256K supported" -> only with' in result.stdout
    assert "256K x 144 KiB/token = 36.00 GiB KV" in result.stdout


def test_cli_unknown_model_and_gpu():
    for args, expected in (
        (("plan", "qwen-4b"), "did you mean qwen3-4b?"),
        (("plan", "--gpu", "4090ti"), "did you mean"),
    ):
        result = run_cli(*args)
        assert result.returncode == 1 and expected in result.stderr and "Traceback" not in result.stderr


def test_awq_plans_serve_an_awq_checkpoint_never_the_bf16_repository():
    # Llama 3 8B has a well-known AWQ checkpoint: served as is, its config names the method
    llama = P.plan(P.make_request(get_profile("llama3-8b"), P.find_gpu("rtx4090"), weights="awq", context=8192))
    assert llama.command[:3] == ["vllm", "serve", "casperhansen/llama-3-8b-instruct-awq"]
    assert "--quantization" not in llama.command and not any("checkpoint" in n for n in llama.notes)
    # Qwen3-4B-Instruct-2507 has none slmbench knows: a placeholder the user must fill, said in one note
    for weights, kind in (("awq", "AWQ"), ("gptq", "GPTQ"), ("int4", "AWQ or GPTQ"), ("int8", "INT8")):
        qwen = P.plan(P.make_request(QWEN, P.find_gpu("rtx4090"), weights=weights, context=32768))
        placeholder = f"<{kind} checkpoint of Qwen/Qwen3-4B-Instruct-2507>"
        assert qwen.command[2] == placeholder and "Qwen/Qwen3-4B-Instruct-2507" not in qwen.command[2:]
        note = (f"Qwen/Qwen3-4B-Instruct-2507 holds bfloat16 weights and slmbench knows no {kind} checkpoint of it: "
                f"put one's HF id or local folder in place of {placeholder} in the command")  # fmt: skip
        assert [n for n in qwen.notes if placeholder in n] == [note]
    # fp8 needs no checkpoint: vLLM quantises the bf16 weights while loading
    fp8 = P.plan(P.make_request(QWEN, P.find_gpu("rtx4090"), weights="fp8", context=32768))
    assert (
        fp8.command[2] == "Qwen/Qwen3-4B-Instruct-2507"
        and fp8.command[fp8.command.index("--quantization") + 1] == "fp8"
    )


def test_cli_plan_awq_does_not_print_a_command_that_loads_bf16_weights_as_awq():
    result = run_cli("plan", "qwen3-4b", "--gpu", "rtx4090", "--context", "32K", "--weights", "awq")
    assert result.returncode == 0, result.stderr
    assert "vllm serve Qwen/Qwen3-4B-Instruct-2507" not in result.stdout and "--quantization awq" not in result.stdout
    assert "vllm serve <AWQ checkpoint of Qwen/Qwen3-4B-Instruct-2507> --max-model-len 32768" in result.stdout
    assert "in place of <AWQ checkpoint of Qwen/Qwen3-4B-Instruct-2507> in the command" in result.stdout
