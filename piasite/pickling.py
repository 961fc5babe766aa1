"""Quicker pickling for the slotted dataclasses the build caches hold by the thousand.

dataclasses gives a slotted dataclass a `__setstate__` that calls `fields()` for every object
it restores: unpickling the cache entries of a 1,000-version site spent about 2 s there, most
of it on Spans. `quick_pickle` gives the class a state that is the tuple of its fields, with
the names looked up once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
import pickle
import sys
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
V = TypeVar("V")


def quick_pickle(cls: type[T] | None = None, *,
                 restore: Mapping[str, Callable[[Any], Any]] | None = None):
    """`restore`: field -> a function its restored value is passed through (`sys.intern`,
    `keys_interned`, `members_interned`), for text that objects from many pickles repeat: a
    message every assessment's result repeats, each restored from a pickle of its own, is
    then held once."""
    def wrap(cls: type[T]) -> type[T]:
        names = tuple(f.name for f in dataclasses.fields(cls))
        get = operator.attrgetter(*names)

        if len(names) == 1:
            def getstate(self) -> tuple:
                return (get(self),)
        else:
            def getstate(self) -> tuple:
                return get(self)

        cls.__getstate__ = getstate
        cls.__setstate__ = _setstate(names, restore or {},
                                     frozen=cls.__dataclass_params__.frozen)  # type: ignore[attr-defined]
        return cls

    return wrap if cls is None else wrap(cls)


def keys_interned(mapping: Mapping[str, V]) -> Mapping[str, V]:
    """The mapping with its keys interned (an item id every assessment's record repeats)."""
    return MappingProxyType({sys.intern(k): v for k, v in mapping.items()})


def members_interned(members: frozenset[str]) -> frozenset[str]:
    """The set with its members interned (the folders every assessment links into)."""
    return frozenset(map(sys.intern, members))


def _setstate(names: tuple[str, ...], restore: Mapping[str, Callable[[Any], Any]],
              frozen: bool = True) -> Callable[[object, tuple], None]:
    """A `__setstate__` with one assignment per field written out, as dataclasses writes its
    `__init__`: a loop over the names took a third longer (30,000 diagnostics with their
    spans: 0.066 s → 0.042 s), and a rebuild unpickles every cached assessment's. A state
    of another length (an older cache) raises ValueError, as the loop's `zip` did. A frozen
    class's fields are set through object.__setattr__, another's by plain assignment (a
    comparison entry's 27-field FieldView unpickled in 2.6 us instead of 4.9)."""
    lines = [f"    if len(state) != {len(names)}: raise ValueError('state of another class')"]
    for i, name in enumerate(names):
        value = f"{'restore_' + name if name in restore else ''}(state[{i}])"
        lines.append(f"    put(self, {name!r}, {value})" if frozen else
                     f"    self.{name} = {value}")
    scope = {"put": object.__setattr__,
             **{f"restore_{name}": fn for name, fn in restore.items()}}
    exec("def setstate(self, state):\n" + "\n".join(lines), scope)
    return scope["setstate"]


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class Packed(Generic[T]):
    """A value a cache keeps pickled until it is read. Unpickling a cache entry then costs a
    copy of these bytes, not the objects inside: the links of every published page and
    assessment, and the items naming each system, were half the time a 1,000-version rebuild
    spent reading its caches, and most builds never look at them. Its repr is the digest of
    its bytes: a page fingerprinted by it is made again when they change (render._fp)."""

    blob: bytes
    digest: str

    @classmethod
    def of(cls, value: T) -> Packed[T]:
        blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return cls(blob, hashlib.blake2b(blob, digest_size=16).hexdigest())

    def get(self) -> T:
        return pickle.loads(self.blob)

    def __repr__(self) -> str:
        return f"Packed({self.digest})"
