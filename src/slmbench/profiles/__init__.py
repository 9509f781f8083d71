"""Model profiles: the architecture numbers the planner and the servers need, as data.

Built-in profiles are the TOML files next to this module; any other model is read from its
`config.json` (a local file or folder, or the hub when the user asks for it).
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import SlmbenchError

HERE = Path(__file__).parent


class Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None


class GgufFiles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repos: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)  # quant name -> file name in the first repo


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    hf: str
    aliases: list[str] = Field(default_factory=list)
    architecture: str
    params: int
    embedding_params: int
    params_estimated: bool = False  # True when counted from config.json shapes, not published
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    context: int
    rope_theta: float | None = None
    rope_scaling: dict[str, Any] | None = None
    sliding_window: int | None = None
    sliding_layers: int = 0  # layers whose KV never holds more than sliding_window tokens
    tied_embeddings: bool = False
    dtype: str = "bfloat16"
    tool_call_parser: str | None = None
    thinking: bool | None = None
    chat_template: str | None = None
    embedded: bool = False
    gated: bool = False
    source: str = ""
    sampling: Sampling = Field(default_factory=Sampling)
    gguf: GgufFiles = Field(default_factory=GgufFiles)
    # Pre-quantised checkpoints of this model on the hub, by --weights format (awq, gptq, int8):
    # only ids known to exist; the planner prints a placeholder for the others.
    checkpoints: dict[str, str] = Field(default_factory=dict)

    @property
    def full_layers(self) -> int:
        return self.layers - self.sliding_layers


@cache
def builtin() -> dict[str, Profile]:
    profiles = {}
    for path in sorted(HERE.glob("*.toml")):
        profile = Profile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        profiles[profile.name] = profile
    return profiles


def _index() -> dict[str, Profile]:
    """Every name a profile answers to, lower-cased: short name, aliases, HF id and its tail."""
    index: dict[str, Profile] = {}
    for p in builtin().values():
        for key in (p.name, p.hf, p.hf.split("/")[-1], *p.aliases):
            index[key.lower()] = p
    return index


def get_profile(name: str) -> Profile:
    """A built-in profile by name, alias or HF id; an unknown name gets close matches."""
    index = _index()
    found = index.get(name.lower())
    if found is not None:
        return found
    close = difflib.get_close_matches(name.lower(), list(index), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(dict.fromkeys(index[c].name for c in close))}? " if close else ""
    raise SlmbenchError(
        f"unknown model {name!r}; {hint}known: {', '.join(builtin())}; "
        "or pass a config.json path (or --hub to read the HF id's config.json)"
    )


def resolve(model: str, *, hub: bool = False) -> Profile:
    """A built-in profile, a local config.json (file or folder), or, with hub, the hub's config.json."""
    path = Path(model).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.name == "config.json":
        if not path.is_file():
            raise SlmbenchError(f"config file {path} not found; pass a model's config.json or its folder")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SlmbenchError(f"{path} is not valid JSON ({exc}); pass a model's config.json") from None
        if path.name == "config.json":  # a model folder: vLLM serves the folder itself
            return from_config(config, hf=str(path.parent), name=path.parent.resolve().name)
        return from_config(config, hf=path.stem, name=path.stem)
    if hub:
        return from_hub(model)
    return get_profile(model)


def from_hub(hf_id: str, *, timeout_s: float = 20) -> Profile:
    """Download config.json of a hub model (only when the user asked: --hub)."""
    from ..serving.http import get_json

    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    status, body = get_json(f"{endpoint}/{hf_id}/resolve/main/config.json", timeout_s=timeout_s, headers=headers)
    if status == 0:
        raise SlmbenchError(f"could not reach {endpoint} for {hf_id}; check the network, or pass a local config.json")
    if status in (401, 403):
        raise SlmbenchError(f"{hf_id} is gated on the hub (HTTP {status}); accept its licence and set HF_TOKEN")
    if status != 200 or not isinstance(body, dict):
        raise SlmbenchError(f"the hub has no config.json for {hf_id!r} (HTTP {status}); check the model id")
    return from_config(body, hf=hf_id)


def from_config(config: dict[str, Any], *, hf: str, name: str | None = None) -> Profile:
    """A profile from a transformers config.json. Parameter counts are estimated from the shapes."""
    text = config.get("text_config")
    if isinstance(text, dict):  # multimodal wrappers keep the language model here
        config = {**config, **text}
    try:
        hidden = int(config["hidden_size"])
        heads = int(config["num_attention_heads"])
        layers = int(config["num_hidden_layers"])
        vocab = int(config["vocab_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SlmbenchError(
            f"config.json for {hf} lacks {exc}; the planner needs hidden_size, num_attention_heads, "
            "num_hidden_layers and vocab_size"
        ) from None
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    intermediate = int(config.get("intermediate_size") or 4 * hidden)
    tied = bool(config.get("tie_word_embeddings", False))
    embedding = vocab * hidden * (1 if tied else 2)
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    per_layer = attention + 3 * hidden * intermediate + 2 * hidden  # gated MLP + two norms
    layer_types = config.get("layer_types") or []
    sliding = sum(1 for t in layer_types if t == "sliding_attention")
    architectures = config.get("architectures") or ["unknown"]
    return Profile(
        name=(name or hf.split("/")[-1]).lower(),
        hf=hf,
        architecture=architectures[0],
        params=embedding + layers * per_layer + hidden,
        embedding_params=embedding,
        params_estimated=True,
        layers=layers,
        hidden=hidden,
        intermediate=intermediate,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab=vocab,
        context=int(config.get("max_position_embeddings") or 2048),
        rope_theta=config.get("rope_theta"),
        rope_scaling=config.get("rope_scaling"),
        sliding_window=config.get("sliding_window") if sliding else None,
        sliding_layers=sliding,
        tied_embeddings=tied,
        dtype=str(config.get("torch_dtype") or config.get("dtype") or "bfloat16"),
    )
