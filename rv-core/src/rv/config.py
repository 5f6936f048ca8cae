"""Config and ConfigBuilder: the declarative half of rv.

A *Config* is an immutable attrs class that declares what to run, never the
thing itself: ``config.create(...)`` builds the runtime entity. A
*ConfigBuilder* is fluent and immutable: every ``with_*`` returns a new
builder (``attrs.evolve`` underneath) and ``build()`` validates and returns
the Config; ``config.to_builder()`` goes back.

Polymorphic configs (tasks, backends, raster sources, ...) are registered by
plugins under a string key; ``rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)``
looks the key up in the registry of the active plugin manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
from attrs.exceptions import FrozenInstanceError

from rv.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Self


def _freeze(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


def field(*, default: Any = attrs.NOTHING, factory: Any = None, doc: str = "", **kw):
    """An attrs field with a ``doc`` string kept in its metadata.

    The docs generator reads the ``doc`` to list every option of every key.
    """
    metadata = dict(kw.pop("metadata", {}) or {})
    metadata["doc"] = doc
    if factory is not None:
        return attrs.field(factory=factory, metadata=metadata, **kw)
    return attrs.field(default=default, metadata=metadata, **kw)


@attrs.frozen
class Config:
    """Base class of every config.

    Subclasses are ``@attrs.frozen`` classes. Polymorphic families set
    ``group`` (the registry group, e.g. ``"tasks"``); the key a config is
    registered under is its type tag in JSON.
    """

    group: ClassVar[str | None] = None
    #: the builder class used by ``to_builder()`` when the registry does not know the class
    builder_class: ClassVar[type[ConfigBuilder] | None] = None
    #: format version of this config type; ``upgrade`` lifts older dicts
    format_version: ClassVar[int] = 1

    # -- building --------------------------------------------------------
    @classmethod
    def builder(cls, key: str | None = None) -> ConfigBuilder:
        """Return an empty builder: by ``key`` for a registered family."""
        if key is not None:
            from rv.registry import get_registry

            group = cls.group
            if group is None:
                raise ConfigError(f"{cls.__name__} has no keys; call {cls.__name__}.builder() without one.")
            return get_registry().get_builder(group, key)()
        if cls.builder_class is not None and cls.builder_class.config_class is cls:
            return cls.builder_class()
        if cls.group is not None:
            from rv.registry import get_registry

            keys = get_registry().keys(cls.group)
            raise ConfigError(
                f"{cls.__name__}.builder() needs a key, one of: {', '.join(sorted(keys)) or '(none registered)'}."
            )
        return GenericBuilder.for_class(cls)()

    def to_builder(self) -> ConfigBuilder:
        """A builder holding this config's values, to change and rebuild."""
        builder_cls = _builder_class_for(type(self))
        values = {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}
        return builder_cls(values=values)

    def validate(self) -> None:
        """Check cross-field rules; raise :class:`~rv.errors.ConfigError`. Override."""

    # -- identity ----------------------------------------------------------
    @property
    def key(self) -> str | None:
        """The registry key of this config's class, or None for a plain config."""
        from rv.registry import get_registry

        found = get_registry().key_of(type(self))
        return found[1] if found else None

    def evolve(self, **changes: Any) -> Config:
        """A copy with some fields changed (no validation, as attrs.evolve)."""
        return attrs.evolve(self, **changes)

    # -- hooks for the command graph ----------------------------------------
    @classmethod
    def upgrade(cls, data: dict, from_version: int) -> dict:
        """Lift a dict saved at ``from_version`` to the current format. Override."""
        return data

    # -- immutability ---------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        # attrs gives every frozen class its own __setattr__ raising a bare
        # FrozenInstanceError; swap it for the one that says what to do instead.
        # (A slotted attrs class is re-created with that __setattr__ in its
        # dict, which is when this runs.)
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("__setattr__") is _ATTRS_FROZEN_SETATTR:
            cls.__setattr__ = _config_setattr  # type: ignore[method-assign, assignment]


class FrozenConfigError(ConfigError, FrozenInstanceError):
    """Assignment to a field of a built (immutable) config.

    Both a :class:`~rv.errors.ConfigError` and attrs'
    ``FrozenInstanceError`` (an ``AttributeError``), so code that expects
    either still catches it.
    """

    def __init__(self, message: str) -> None:
        # FrozenInstanceError's own __init__ takes no message.
        BaseException.__init__(self, message)


#: the ``__setattr__`` attrs writes into frozen classes (Config's own, before it is replaced below)
_ATTRS_FROZEN_SETATTR = Config.__dict__["__setattr__"]


def _config_setattr(self: Config, name: str, value: Any) -> None:
    """Refuse assignment with a message naming the builder method that makes a changed copy."""
    cls = type(self).__name__
    fields = attrs.fields_dict(type(self))
    if name not in fields:
        raise FrozenConfigError(
            f"{cls} has no field {name!r}, and a built config cannot be changed anyway. "
            f"Its fields: {', '.join(fields)}; change one with `config = config.to_builder().with_<field>(...).build()`."
        )
    builder_cls = _builder_class_for(type(self))
    if hasattr(builder_cls, f"with_{name}"):
        change = f".with_{name}(...)"
    else:
        change = f".with_options({name}=...)"
    raise FrozenConfigError(
        f"A built {cls} cannot be changed: `config.{name} = ...` is not allowed, because configs are "
        f"immutable once built. Make a changed copy through its builder instead: "
        f"`config = config.to_builder(){change}.build()`."
    )


Config.__setattr__ = _config_setattr  # type: ignore[method-assign, assignment]


def _builder_class_for(config_cls: type[Config]) -> type[ConfigBuilder]:
    try:
        from rv.registry import get_registry

        found = get_registry().builder_for_config_class(config_cls)
    except Exception:  # registry unavailable: fall back to the class's own builder
        found = None
    if found is not None:
        return found
    if config_cls.builder_class is not None and config_cls.builder_class.config_class is config_cls:
        return config_cls.builder_class
    return GenericBuilder.for_class(config_cls)


@attrs.frozen
class ConfigBuilder:
    """Fluent, immutable builder of a :class:`Config`.

    Subclasses set ``config_class`` and add ``with_*`` methods, each returning
    ``self._with(field=value)``. ``build()`` checks that every required field
    is set, converts values through the attrs converters, runs
    ``Config.validate()`` and returns the config.
    """

    config_class: ClassVar[type[Config]] = Config
    #: fields filled with a default by the builder when the user gives none
    values: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)
    #: builder-only state that is not a config field (e.g. the task a scene is for)
    context: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)

    def _with(self, **changes: Any) -> Self:
        fields = attrs.fields_dict(self.config_class)
        for name in changes:
            if name not in fields:
                raise ConfigError(
                    f"{self.config_class.__name__} has no option {name!r}; known options: {', '.join(fields)}."
                )
        return attrs.evolve(self, values={**self.values, **changes})

    def _with_context(self, **changes: Any) -> Self:
        return attrs.evolve(self, context={**self.context, **changes})

    def with_options(self, **options: Any) -> Self:
        """Set any fields by name (an unknown name is an error listing the known ones)."""
        return self._with(**options)

    def get(self, name: str, default: Any = None) -> Any:
        """The value given so far for ``name``."""
        return self.values.get(name, default)

    def _defaults(self) -> dict[str, Any]:
        """Values derived at build time from other values. Override."""
        return {}

    def build(self) -> Config:
        """Validate and return the config; a missing or bad field is a ConfigError."""
        cls = self.config_class
        values = {**self._defaults(), **self.values}
        missing = [f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING and f.init and f.name not in values]
        if missing:
            hints = "; ".join(f"call .with_{name}(...)" for name in missing)
            raise ConfigError(f"{cls.__name__} is missing required field(s) {', '.join(missing)}: {hints}.")
        try:
            config = cls(**values)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{cls.__name__}: {e}") from e
        config.validate()
        return config


class GenericBuilder(ConfigBuilder):
    """A builder made on the fly for a config class with no builder of its own."""

    _cache: ClassVar[dict[type, type]] = {}

    @classmethod
    def for_class(cls, config_cls: type[Config]) -> type[ConfigBuilder]:
        if config_cls not in cls._cache:
            cls._cache[config_cls] = attrs.frozen(
                type(
                    f"{config_cls.__name__}Builder",
                    (ConfigBuilder,),
                    {"config_class": config_cls, "__annotations__": {}},
                )
            )
        return cls._cache[config_cls]
