"""An rv class map as the plugin needs it: ids, names and colours as ``#rrggbb`` (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

#: matplotlib's "tab:" colours, which rv accepts in class maps; CSS names and ``#rrggbb`` QColor reads itself
TAB_COLORS = {
    "tab:blue": "#1f77b4",
    "tab:orange": "#ff7f0e",
    "tab:green": "#2ca02c",
    "tab:red": "#d62728",
    "tab:purple": "#9467bd",
    "tab:brown": "#8c564b",
    "tab:pink": "#e377c2",
    "tab:gray": "#7f7f7f",
    "tab:grey": "#7f7f7f",
    "tab:olive": "#bcbd22",
    "tab:cyan": "#17becf",
}
#: colours of classes without a colour QColor reads, by position
FALLBACK_COLORS = list(TAB_COLORS.values())


@dataclass(frozen=True)
class ClassInfo:
    """One class of an experiment or a bundle."""

    id: int
    name: str
    color: str | None


def read_classes(items) -> list[ClassInfo]:
    """The classes of a task config or a bundle manifest (``[{"id", "name", "color"}, ...]``), by id."""
    classes = []
    for item in items or []:
        if isinstance(item, dict):
            classes.append(ClassInfo(int(item["id"]), str(item.get("name", item["id"])), item.get("color")))
    return sorted(classes, key=lambda c: c.id)
