"""The ``torch-bf16`` embedding backend: all-MiniLM-L6-v2's BERT encoder written out in plain
PyTorch ops and run in bfloat16 on the CPU's AMX / AVX512-BF16 units (float32 where the CPU
has neither). The backend's design and figures are in :mod:`paperfeed.search.embedder`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from paperfeed.search.minilm import EmbedderUnavailable, Vectors

if TYPE_CHECKING:
    import torch


def bf16_supported() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX-BF16 or AVX512-BF16) and PyTorch's
    oneDNN can use it. Without it bfloat16 is emulated, slower than float32."""
    # lazy: torch loads only for the torch-bf16 backend
    try:
        import torch
    except ImportError:  # pragma: no cover - a dependency of the project
        return False
    if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.partition(":")[2].split()))


class TorchBert:
    """all-MiniLM-L6-v2's encoder (BERT: embeddings, 6 layers, mean pooling) on PyTorch ops.

    Weights are read from the packaged ``model.safetensors``. In bfloat16 the linear weights are
    reordered once into oneDNN's blocked layout, and each linear runs as one
    ``mkldnn._linear_pointwise`` call with its bias, and GELU or the residual add, fused (the
    plain ``nn.Linear`` path reorders the weight on every call). Embeddings, their layer norm
    and the pooling stay in float32. Stateless after loading: safe to call from many threads.
    """

    def __init__(self, path: Path, *, bf16: bool, batch_hint: int) -> None:
        # lazy: torch loads only for the torch-bf16 backend
        import torch
        from safetensors.torch import load_file

        config = json.loads((path / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise EmbedderUnavailable(f"unexpected model config under {path}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise EmbedderUnavailable(f"unexpected model config under {path}")
        weights = load_file(str(path / "model.safetensors"))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.bf16 = bf16
        self.dtype = torch.bfloat16 if bf16 else torch.float32

        def w(name: str) -> torch.Tensor:
            return weights[name].float().contiguous()

        self.word = w("embeddings.word_embeddings.weight")
        self.position_type = (
            w("embeddings.position_embeddings.weight")
            + w("embeddings.token_type_embeddings.weight")[0]
        )
        self.norm0 = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))

        def linear(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            weight = weight.to(self.dtype).contiguous()
            if bf16:
                weight = torch.ops.mkldnn._reorder_linear_weight(weight, batch_hint)
            return weight, bias.to(self.dtype)

        def norm(prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
            return w(f"{prefix}.weight").to(self.dtype), w(f"{prefix}.bias").to(self.dtype)

        self.layers: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            qkv = ("query", "key", "value")
            self.layers.append(
                {
                    "qkv": linear(
                        torch.cat([w(f"{p}.attention.self.{n}.weight") for n in qkv]),
                        torch.cat([w(f"{p}.attention.self.{n}.bias") for n in qkv]),
                    ),
                    "out": linear(
                        w(f"{p}.attention.output.dense.weight"),
                        w(f"{p}.attention.output.dense.bias"),
                    ),
                    "norm1": norm(f"{p}.attention.output.LayerNorm"),
                    "up": linear(
                        w(f"{p}.intermediate.dense.weight"), w(f"{p}.intermediate.dense.bias")
                    ),
                    "down": linear(w(f"{p}.output.dense.weight"), w(f"{p}.output.dense.bias")),
                    "norm2": norm(f"{p}.output.LayerNorm"),
                }
            )

    def _linear(
        self,
        x: torch.Tensor,
        weight_bias: tuple[torch.Tensor, torch.Tensor],
        *,
        gelu: bool = False,
        add: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # lazy: torch loads only for the torch-bf16 backend
        import torch

        weight, bias = weight_bias
        y: torch.Tensor
        if self.bf16:
            ops = torch.ops.mkldnn
            if add is not None:
                y = ops._linear_pointwise.binary(x, add, weight, bias, "add")
            elif gelu:
                y = ops._linear_pointwise(x, weight, bias, "gelu", [], "none")
            else:
                y = ops._linear_pointwise(x, weight, bias, "none", [], "")
            return y
        y = torch.nn.functional.linear(x, weight, bias)
        if gelu:
            y = torch.nn.functional.gelu(y)
        return y if add is None else y + add

    def embed(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> Vectors:
        """Unit vectors (float32) of a batch: token ids and their mask, ``(rows, width)``."""
        # lazy: torch loads only for the torch-bf16 backend
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            ids_t = torch.from_numpy(ids)
            mask_t = torch.from_numpy(mask)
            rows, width = ids_t.shape
            x = F.embedding(ids_t, self.word) + self.position_type[:width]
            x = F.layer_norm(x, (x.shape[-1],), *self.norm0, eps=self.eps).to(self.dtype)
            # Additive key mask; none when no row is padded (most batches of abstracts).
            bias = None
            if not bool(mask_t.all()):
                bias = torch.zeros((rows, 1, 1, width), dtype=self.dtype)
                bias.masked_fill_(~mask_t.view(rows, 1, 1, width), float("-inf"))
            for layer in self.layers:
                qkv = self._linear(x, layer["qkv"]).view(rows, width, 3, self.heads, -1)
                q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
                attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
                attended = attended.transpose(1, 2).reshape(rows, width, -1)
                x = self._layer_norm(self._linear(attended, layer["out"], add=x), layer["norm1"])
                up = self._linear(x, layer["up"], gelu=True)
                x = self._layer_norm(self._linear(up, layer["down"], add=x), layer["norm2"])
            weights = mask_t.unsqueeze(-1).float()
            pooled = (x.float() * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            unit = F.normalize(pooled, p=2.0, dim=1)
        vectors: Vectors = unit.numpy()
        return vectors

    def _layer_norm(
        self, x: torch.Tensor, weight_bias: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        # lazy: torch loads only for the torch-bf16 backend
        import torch.nn.functional as F

        return F.layer_norm(x, (x.shape[-1],), *weight_bias, eps=self.eps)
