"""One update call for many small parameters: the Solver's multi-tensor update.

A net's small parameters (biases, gamma, beta, narrow weight matrices) cost an update rule more
in per-call overhead (a dozen NumPy calls of about a microsecond each) than in arithmetic. The
update rules are elementwise, so they can update many parameters at once if those parameters
sit side by side in one flat buffer. After the first step, :class:`MultiTensorUpdate` packs
every parameter of at most ``max_size`` elements into flat buffers, one group per dtype and per
update config::

    flat w:  [ b1 (100) | gamma1 (100) | beta1 (100) | W2 (10000) | ... ]   # (P,)
    flat dw: the gradients copied in the same order, every step           # (P,)
    flat m, flat v, ...: the rule's state (STATE_KEYS), in the same order   # (P,)

and ``model.params[name]`` and ``optim_configs[name][key]`` become views into them, so one
call of the fast rule (:mod:`bnlab.fast.optim`) updates the whole group and every view sees
the result. Elementwise IEEE arithmetic does not depend on where a number sits in an array,
so the result is bitwise the per-parameter update's (``tests/test_multi_tensor.py``).

The visible change: after the first step, the packed entries of ``model.params`` are new
array objects (views), so a reference to the old array taken before training stops following
the model. Read parameters through ``model.params`` (as cs231n's models do).

Before every packed step the packing is checked: if a parameter or a state array was
replaced (a checkpoint resumed, a param set by hand), a config's hyperparameters differ from
the rest of its group, or a gradient has another shape or dtype, the step runs the
per-parameter loop and packs again after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import is_

import numpy as np

from bnlab.fast.optim import SCALAR_KEYS, STATE_KEYS

PACK_LIMIT = 65536  # elements; above this the arithmetic dominates and a param updates alone


@dataclass
class PackedGroup:
    """Parameters of one dtype and one config, updated by one call of the rule."""

    names: list[str]  # keys of model.params, in buffer order
    shapes: list[tuple[int, ...]]
    w: np.ndarray  # (P,) the parameters, side by side
    dw: np.ndarray  # (P,) the gradients, copied in every step
    config: dict  # the rule's config for the whole group: scalars and flat state (P,)
    views: list[np.ndarray]  # model.params[name] for each name: views into w
    state_views: list[list[np.ndarray]]  # per STATE_KEY, the views into config[key], per name


class MultiTensorUpdate:
    """Updates the small parameters of a model with one rule call per packed group.

    rule_name: a key of :data:`bnlab.fast.optim.UPDATE_RULES`; rule: that fast rule.
    max_size: parameters with more elements are never packed.

    Use: ``done = packer.update(params, grads, optim_configs)`` updates the packed params
    and returns their names (an empty set when the packing no longer holds); the caller
    updates every other param one by one and then calls ``packer.pack(params,
    grads, optim_configs)``, which packs them (once their state exists) if they are not.
    """

    def __init__(self, rule_name: str, rule: Callable, max_size: int = PACK_LIMIT) -> None:
        self.rule = rule
        self.state_keys = STATE_KEYS[rule_name]
        self.scalar_keys = SCALAR_KEYS[rule_name]
        self.max_size = max_size
        self.groups: list[PackedGroup] = []
        self.packed: frozenset[str] = frozenset()
        self.tried = False  # pack() looks once, then again only after the packing breaks

    def __getstate__(self) -> dict:
        """A copy or a pickle starts unpacked: copying a view does not keep it a view of the
        copied buffer, so the copy would update a buffer no param looks at."""
        return {**self.__dict__, "groups": [], "packed": frozenset(), "tried": False}

    def update(
        self, params: dict[str, np.ndarray], grads: Mapping, configs: dict[str, dict]
    ) -> frozenset[str]:
        """Update every packed group in place; the names updated (empty: nothing was)."""
        checked = [self._check(group, params, grads, configs) for group in self.groups]
        if not self.groups or None in checked:
            if self.groups:  # the packing broke: pack again after this step
                self.groups, self.packed, self.tried = [], frozenset(), False
            return self.packed
        for group, (dws, member_configs, scalars) in zip(self.groups, checked, strict=True):
            # one C call gathers the gradients; ravel() is a view of a contiguous array
            np.concatenate([dw.ravel() for dw in dws], out=group.dw)
            group.config.update(zip(self.scalar_keys, scalars, strict=True))
            self.rule(group.w, group.dw, group.config)
            new_scalars = {key: group.config[key] for key in self.scalar_keys}  # adam's t
            for config in member_configs:
                config.update(new_scalars)
        return self.packed

    def _check(
        self, group: PackedGroup, params: dict, grads: Mapping, configs: dict[str, dict]
    ) -> tuple[list[np.ndarray], list[dict], list] | None:
        """(gradients, configs, scalars) of the members if the packing holds, else None.

        This runs every step, so it compares whole lists (identity, ``is``) rather than
        looping over the members in Python.
        """
        names = group.names
        if not all(map(is_, map(params.get, names), group.views)):  # a param replaced
            return None
        member_configs = list(map(configs.get, names))
        if not all(type(config) is dict for config in member_configs):
            return None
        for key, views in zip(self.state_keys, group.state_views, strict=True):
            # a config or its state replaced (a resume), or the state set by hand
            if not all(map(is_, [config.get(key) for config in member_configs], views)):
                return None
        scalars = []
        for key in self.scalar_keys:  # e.g. a learning rate set for one param only
            values = [config.get(key) for config in member_configs]
            if type(values[0]) not in (float, int) or values.count(values[0]) != len(values):
                return None
            scalars.append(values[0])
        dws = list(map(grads.get, names))
        dtype = group.w.dtype
        if not all(type(dw) is np.ndarray and dw.dtype == dtype for dw in dws):
            return None
        if [dw.shape for dw in dws] != group.shapes:
            return None
        return dws, member_configs, scalars

    def pack(self, params: dict[str, np.ndarray], grads: Mapping, configs: dict[str, dict]) -> None:
        """Pack the small params and their state, unless packed: one group per dtype and config.

        Only what :meth:`_check` will accept is packed (else every step would pack again).
        """
        if self.groups or self.tried:
            return
        self.tried = True
        candidates: dict[tuple, list[str]] = {}
        for name, w in params.items():
            config = configs.get(name)
            if not self._packable(w, grads.get(name), config):
                continue
            hyperparameters = tuple(config[key] for key in self.scalar_keys)
            candidates.setdefault((w.dtype, hyperparameters), []).append(name)
        for (dtype, _), names in candidates.items():
            if len(names) >= 2:  # one param alone gains nothing
                self.groups.append(self._pack_group(dtype, names, params, configs))
        self.packed = frozenset(name for group in self.groups for name in group.names)

    def _packable(self, w: object, dw: object, config: object) -> bool:
        if type(w) is not np.ndarray or w.dtype not in (np.float32, np.float64):
            return False
        if w.size > self.max_size or type(config) is not dict:
            return False
        if type(dw) is not np.ndarray or dw.dtype != w.dtype or dw.shape != w.shape:
            return False
        # the rule fills in its defaults and state on the first step (other keys it ignores)
        if not {*self.scalar_keys, *self.state_keys} <= config.keys():
            return False
        scalars_ok = all(type(config[key]) in (float, int) for key in self.scalar_keys)
        return scalars_ok and all(
            type(config[key]) is np.ndarray
            and config[key].shape == w.shape
            and config[key].dtype == w.dtype
            for key in self.state_keys
        )

    def _pack_group(
        self, dtype: np.dtype, names: list[str], params: dict, configs: dict[str, dict]
    ) -> PackedGroup:
        shapes = [params[name].shape for name in names]  # a list: _check compares lists
        sizes = [params[name].size for name in names]
        stops = np.cumsum(sizes).tolist()  # buffer offsets: member i is [stops[i-1], stops[i])
        starts = [0, *stops[:-1]]

        def flat_copy(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
            flat = np.concatenate([a.ravel() for a in arrays]).astype(dtype, copy=False)
            views = [
                flat[start:stop].reshape(shape)
                for start, stop, shape in zip(starts, stops, shapes, strict=True)
            ]
            return flat, views

        w, views = flat_copy([params[name] for name in names])
        member_configs = [configs[name] for name in names]
        group_config = {key: member_configs[0][key] for key in self.scalar_keys}
        state_views = []
        for key in self.state_keys:
            flat, key_views = flat_copy([config[key] for config in member_configs])
            group_config[key] = flat
            for config, view in zip(member_configs, key_views, strict=True):
                config[key] = view
            state_views.append(key_views)
        for name, view in zip(names, views, strict=True):
            params[name] = view
        return PackedGroup(names, shapes, w, np.empty_like(w), group_config, views, state_views)
