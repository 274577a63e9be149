"""A book of contracts for the ``book`` command: shared ``mlmc`` and ``run`` settings plus
one option per contract, inline or from a CSV file.

```yaml
name: nightly
mlmc: {eps: 0.01}            # shared by every contract (a contract may give its own eps)
run: {seed: 1, output: results/book.h5}
contracts:                   # a list, or the path of a CSV file (relative to this file)
  - {name: spx-c-100, type: call, S0: 100, K: 100, T: 1, r: 0.05, sigma: 0.2}
  - {type: asian, S0: 100, K: 110, T: 0.5, r: 0.05, sigma: 0.3, eps: 0.005, seed: 7}
```

A contract holds the option keys (``type``, ``S0``, ``K``, ``T``, ``r``, ``sigma``, ``barrier``,
``payout``, ``average``; missing ones come from the packaged defaults) and optionally
``name`` (default ``c<row>``, row counted from 1), ``eps``, ``rel_eps`` (eps as a fraction
of the contract's pilot price, :mod:`mlmc_hpc.pricing.rel_eps`) and ``seed``. Every contract is
validated as a whole pricing config before anything runs; an error names the row (the
CSV line) and the contract. A contract's seed, unless given, is derived from ``run.seed``
and its name (:func:`contract_seed`), so contracts draw different streams and a contract
is reproduced by ``run`` with its stored config (the seed is in it).
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import ConfigError
from .loading import apply_overrides, build, merge, packaged_defaults, parse_yaml
from .schema import Config
from .values import show
from .yamlfile import read_config_text

CONTRACT_KEYS = ("type", "S0", "K", "T", "r", "sigma", "barrier", "payout", "average")
EXTRA_KEYS = ("name", "eps", "rel_eps", "seed")
MAX_CONTRACTS = 100_000
LEVEL_SLOTS = 64  # a book task's level is contract * LEVEL_SLOTS + level (Lmax <= 40)


@dataclass(frozen=True)
class BookConfig:
    """The shared settings (``base``: the pricing config every contract starts from) and the
    contracts, each a fully resolved pricing :class:`Config` named by ``Config.name``."""

    name: str
    base: Config
    contracts: tuple[Config, ...]
    source: str  # the contracts as given: "inline" or the CSV path

    @property
    def run(self) -> Any:
        """The shared run section (seed, backend, batch size, output, stall limits)."""
        return self.base.run

    def to_yaml(self) -> str:
        """The book as YAML: shared sections and every contract's resolved option, eps and
        seed (what a result file stores)."""
        base = self.base.to_dict()
        contracts = [{"name": c.name, **c.to_dict()["option"], "eps": c.mlmc.eps,
                      "seed": c.run.seed} for c in self.contracts]  # fmt: skip
        data = {"name": self.name, "mlmc": base["mlmc"], "run": base["run"],
                "contracts": contracts}  # fmt: skip
        return yaml.safe_dump(data, sort_keys=False)


def contract_seed(seed: int, name: str) -> int:
    """A contract's seed unless given: the first 64-bit word of
    SeedSequence([run.seed, crc32(name)]) (a public contract, like the streams)."""
    state = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1, np.uint64)
    return int(state[0])


def read_contracts_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for each data row of a CSV file; values parsed as YAML scalars, empty
    cells left out. ``where`` is ``<file> line N``."""
    text = read_config_text(path)
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise ConfigError(f"{path} line {line}: more cells than the header's columns")
        values = {}
        for key, cell in row.items():
            key = (key or "").strip()
            if cell is None or not cell.strip():
                continue
            parsed = yaml.safe_load(cell) if key != "name" else cell.strip()
            values[key] = parsed
        rows.append((f"{path} line {line}", values))
    return rows


def contract_config(base_data: dict[str, Any], row: Mapping[str, Any], index: int,
                    seed: int) -> Config:  # fmt: skip
    """One contract as a resolved pricing config (ConfigError names the bad key)."""
    for key in row:
        if key not in CONTRACT_KEYS + EXTRA_KEYS:
            allowed = ", ".join(CONTRACT_KEYS + EXTRA_KEYS)
            raise ConfigError(f"unknown column or key {key}; allowed: {allowed}")
    name = str(row.get("name") or f"c{index + 1}")
    if "/" in name or not name.strip() or name in (".", ".."):
        raise ConfigError(f"name must be a non-empty name without '/', got {show(name)}")
    option = {k: v for k, v in row.items() if k in CONTRACT_KEYS}
    data = merge(base_data, {"name": name, "option": option})
    for key in ("eps", "rel_eps"):
        if row.get(key) is not None:
            data = merge(data, {"mlmc": {key: row[key]}})
    given = row.get("seed")
    data = merge(data, {"run": {"seed": contract_seed(seed, name) if given is None else given}})
    return build(data, probe=False)


def load_book_config(source: str | Path | Mapping[str, Any],
                     overrides: Iterable[tuple[str, Any]] = ()) -> BookConfig:  # fmt: skip
    """Defaults < the book's mlmc/run < overrides (``("run.seed", 3)``), then each contract."""
    if isinstance(source, Mapping):
        data, folder = dict(source), Path.cwd()
    else:
        path = Path(source)
        data, folder = parse_yaml(read_config_text(path), str(path)), path.parent
    if "contracts" not in data:
        raise ConfigError("a book needs contracts: a list of options, or a CSV file")
    raw = data.pop("contracts")
    base_data = apply_overrides(merge(packaged_defaults(), data), overrides)
    base = build(base_data)  # resolves the backend and batch size once for every contract
    settled = {"backend": base.run.backend, "batch_timesteps": base.run.batch_timesteps}
    base_data = merge(base_data, {"run": settled})
    if isinstance(raw, str):
        rows, where_from = read_contracts_csv(folder / raw), str(folder / raw)
    elif isinstance(raw, list):
        rows, where_from = [(f"contracts[{i}]", r) for i, r in enumerate(raw)], "inline"
    else:
        raise ConfigError(f"contracts must be a list or a CSV path, got {show(raw)}")
    if not 1 <= len(rows) <= MAX_CONTRACTS:
        raise ConfigError(f"contracts must hold 1..{MAX_CONTRACTS} contracts, got {len(rows)}")
    contracts, names = [], set()
    for index, (where, row) in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ConfigError(f"{where}: a contract must be a mapping of option keys")
        label = f"{where} ({row.get('name') or f'c{index + 1}'})"
        try:
            contract = contract_config(base_data, row, index, base.run.seed)
        except ConfigError as error:
            raise ConfigError(f"{label}: {error}") from None
        if contract.name in names:
            raise ConfigError(f"{label}: the name {contract.name} appears twice")
        names.add(contract.name)
        contracts.append(contract)
    return BookConfig(base.name, base, tuple(contracts), where_from)
