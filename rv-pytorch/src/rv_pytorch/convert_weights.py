"""Convert a pickled torch weights file you trust into safetensors, deliberately.

rv never unpickles a weights file: unpickling runs whatever code the file
holds. A ``.pth`` that ``torch.load(weights_only=True)`` refuses (a pickled
model object, a checkpoint with Python objects in it) must be converted once,
by its owner, on a file they trust::

    python -m rv_pytorch.convert_weights model.pth model.safetensors

The state dict is taken from the file itself, from its ``model`` or
``state_dict`` entry, or from a pickled ``nn.Module``'s ``state_dict()``;
only its tensors are written.
"""

from __future__ import annotations

import sys


def convert(src: str, dst: str) -> int:
    """Write the tensors of the (trusted) torch file ``src`` to the safetensors file ``dst``; returns their count."""
    import torch

    from rv_pytorch.model_files import save_weights

    obj = torch.load(src, map_location="cpu", weights_only=False)  # the one deliberate unpickling, on request
    for key in ("model", "state_dict"):
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise SystemExit(f"{src} holds a {type(obj).__name__}, not a state dict or a model; nothing written.")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise SystemExit(f"{src} holds no tensors; nothing written.")
    save_weights(tensors, dst)
    return len(tensors)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        raise SystemExit(0 if args[:1] in (["-h"], ["--help"]) else 2)
    src, dst = args
    print(f"Unpickling {src}: this runs any code the file holds. Do it only for a file you trust.", file=sys.stderr)
    count = convert(src, dst)
    print(f"wrote {count} tensors to {dst}")


if __name__ == "__main__":
    main()
