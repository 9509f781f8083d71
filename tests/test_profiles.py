"""Model profiles: built-in data, config.json reading, name lookup."""

from pathlib import Path

import pytest

from slmbench.errors import SlmbenchError
from slmbench.profiles import builtin, from_config, get_profile, resolve

CONFIGS = Path(__file__).parent / "fixtures" / "configs"


def test_builtin_profiles_are_the_six_models():
    assert set(builtin()) == {"qwen3-4b", "llama3-8b", "mistral-7b", "phi3-mini", "gemma-3-270m", "smollm2-135m"}
    assert [p.name for p in builtin().values() if p.embedded] == ["gemma-3-270m", "smollm2-135m"]


@pytest.mark.parametrize("name", ["smollm2-135m", "gemma-3-270m"])
def test_embedded_profiles_agree_with_their_gguf_metadata(name):
    """The architecture numbers of an embedded model's profile are the ones its GGUF declares."""
    from slmbench.perf.limit import _read_header
    from slmbench.serving.models import embedded_gguf

    with open(embedded_gguf(name), "rb") as f:
        meta, _ = _read_header(f)
    arch = meta["general.architecture"]
    p = get_profile(name)
    heads = meta[f"{arch}.attention.head_count"]
    assert (p.layers, p.hidden, p.intermediate, heads, p.kv_heads) == (
        meta[f"{arch}.block_count"], meta[f"{arch}.embedding_length"], meta[f"{arch}.feed_forward_length"],
        p.heads, meta[f"{arch}.attention.head_count_kv"],
    )  # fmt: skip
    assert p.head_dim == meta.get(f"{arch}.attention.key_length", p.hidden // heads)
    assert p.context == meta[f"{arch}.context_length"] and p.rope_theta == meta[f"{arch}.rope.freq_base"]
    assert p.vocab == meta.get(f"{arch}.vocab_size", p.vocab)
    # The instruct GGUF carries its own chat template; the base model's needs llama.cpp's built-in one.
    assert ("tokenizer.chat_template" in meta) == (p.chat_template is None)


def test_qwen3_4b_profile_matches_its_config_and_card():
    p = get_profile("Qwen/Qwen3-4B-Instruct-2507")
    assert (p.layers, p.hidden, p.heads, p.kv_heads, p.head_dim, p.vocab, p.context) == (
        36,
        2560,
        32,
        8,
        128,
        151936,
        262144,
    )
    assert p.params == 4_022_468_096 and p.params - p.embedding_params == 3_633_511_936
    assert p.sampling.model_dump() == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0}
    assert p.tool_call_parser == "hermes" and p.thinking is False
    assert "Qwen3-4B-Instruct-2507-Q4_K_M.gguf" in p.gguf.files.values()


@pytest.mark.parametrize("name", ["llama3-8b", "mistral-7b", "phi3-mini", "gemma-3-270m", "qwen3-4b", "smollm2-135m"])
def test_published_parameter_counts_equal_the_count_from_the_shapes(name):
    """The shapes in each profile add up to its published parameter count (Qwen3 and Gemma 3
    add per-head q/k norms, which the generic count leaves out)."""
    p = get_profile(name)
    config = {
        "hidden_size": p.hidden, "num_attention_heads": p.heads, "num_hidden_layers": p.layers,
        "vocab_size": p.vocab, "num_key_value_heads": p.kv_heads, "head_dim": p.head_dim,
        "intermediate_size": p.intermediate, "tie_word_embeddings": p.tied_embeddings,
    }  # fmt: skip
    counted = from_config(config, hf=p.hf).params
    qk_norms = p.layers * 2 * p.head_dim if p.architecture in ("Qwen3ForCausalLM", "Gemma3ForCausalLM") else 0
    gemma_extra_norms = p.layers * 2 * p.hidden if p.architecture == "Gemma3ForCausalLM" else 0
    assert counted + qk_norms + gemma_extra_norms == p.params


def test_profile_from_a_local_config_json():
    p = resolve(str(CONFIGS / "Qwen3-4B-Instruct-2507.json"))
    assert p.params_estimated and p.architecture == "Qwen3ForCausalLM"
    assert (p.layers, p.kv_heads, p.head_dim, p.context, p.tied_embeddings) == (36, 8, 128, 262144, True)
    assert abs(p.params - 4_022_468_096) / 4_022_468_096 < 1e-5
    llama = resolve(str(CONFIGS / "Meta-Llama-3-8B-Instruct.json"))
    assert llama.params == 8_030_261_248 and llama.head_dim == 128  # head_dim derived: 4096 / 32


def test_a_folder_holding_config_json_works(tmp_path):
    folder = tmp_path / "Llama-8B"
    folder.mkdir()
    (folder / "config.json").write_text((CONFIGS / "Meta-Llama-3-8B-Instruct.json").read_text())
    p = resolve(str(folder))
    assert p.layers == 32 and p.name == "llama-8b" and p.hf == str(folder)  # vLLM serves the folder
    assert resolve(str(CONFIGS / "Meta-Llama-3-8B-Instruct.json")).name == "meta-llama-3-8b-instruct"


@pytest.mark.parametrize("name", ["qwen3-4b", "QWEN3-4B-INSTRUCT-2507", "Qwen3-4B-Instruct-2507", "embedded"])
def test_names_aliases_and_hf_ids_resolve(name):
    assert resolve(name).name in ("qwen3-4b", "gemma-3-270m")


def test_unknown_model_suggests_close_names():
    with pytest.raises(SlmbenchError, match=r"unknown model 'qwen3-4'; did you mean qwen3-4b\?"):
        get_profile("qwen3-4")
    with pytest.raises(SlmbenchError, match="unknown model 'zzz'; known: "):
        get_profile("zzz")


def test_bad_config_json_is_one_clear_error(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(SlmbenchError, match="is not valid JSON"):
        resolve(str(bad))
    bad.write_text('{"hidden_size": 8}')
    with pytest.raises(SlmbenchError, match="lacks 'num_attention_heads'"):
        resolve(str(bad))
    with pytest.raises(SlmbenchError, match="not found"):
        resolve(str(tmp_path / "missing.json"))


def test_profile_from_the_hub_only_when_asked(tmp_path, monkeypatch):
    """--hub reads <HF_ENDPOINT>/<id>/resolve/main/config.json; a local mirror stands in for the hub."""
    import http.server
    import threading
    from functools import partial

    served = tmp_path / "Qwen" / "Qwen3-4B-Instruct-2507" / "resolve" / "main"
    served.mkdir(parents=True)
    (served / "config.json").write_text((CONFIGS / "Qwen3-4B-Instruct-2507.json").read_text())
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}")
    try:
        p = resolve("Qwen/Qwen3-4B-Instruct-2507", hub=True)
        assert p.params_estimated and p.hf == "Qwen/Qwen3-4B-Instruct-2507" and p.kv_heads == 8
        assert not resolve("Qwen/Qwen3-4B-Instruct-2507").params_estimated  # without --hub: the built-in
        with pytest.raises(SlmbenchError, match="the hub has no config.json for 'nobody/nothing' \\(HTTP 404\\)"):
            resolve("nobody/nothing", hub=True)
    finally:
        httpd.shutdown()
    with pytest.raises(SlmbenchError, match="could not reach"):
        resolve("nobody/nothing", hub=True)
