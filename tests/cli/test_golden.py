"""Golden values: a pure refactor must leave every result bit-identical.

Each case runs the CLI (a contract that never moves) at a fixed seed and a small batch size
(several batches per level, so the keyed streams and the (level, batch) merge order are
exercised) and compares ``float.hex`` of the price and of every level's eight sums with the
values the code produced before the package was reorganised (commit 5772ddc). A change here
means the random streams, the batching or the arithmetic changed: that needs a CHANGELOG
entry under "contracts", never a silent update of these numbers. The MLMC cases of 0.2.0
run with ``mlmc.convergence=giles`` (Giles' decisions, unchanged since); ``barrier_robust``
pins the default robust driver (raised Lmin, regime checks, 30-sample floor) as of 0.3.0.
These five sample level 0 (``mlmc.level0=sample``, every result before 0.4.0); the
``*_exact`` and ``*_control`` cases pin the level-0 modes of 0.4.0.
"""

from __future__ import annotations

import h5py
import pytest

from tests.helpers import run_cli

CASES = {
    "european_call": [
        "--set", "option.type=call", "--eps", "0.05", "--seed", "11",
        "--set", "run.batch_timesteps=65536", "--set", "mlmc.convergence=giles",
        "--set", "mlmc.level0=sample",
    ],
    "asian": [
        "--set", "option.type=asian", "--eps", "0.05", "--seed", "12",
        "--set", "run.batch_timesteps=65536", "--set", "mlmc.convergence=giles",
        "--set", "mlmc.level0=sample",
    ],
    "plain_mc": [
        "--set", "option.type=put", "--set", "mlmc.method=mc", "--eps", "0.05",
        "--seed", "13", "--set", "run.batch_timesteps=65536",
    ],
    "lookback_M4": [
        "--set", "option.type=lookback", "--set", "mlmc.M=4", "--eps", "0.1", "--seed", "14",
        "--set", "run.batch_timesteps=65536", "--set", "mlmc.convergence=giles",
        "--set", "mlmc.level0=sample",
    ],
    "barrier_robust": [
        "--set", "option.type=barrier", "--set", "option.barrier=95", "--eps", "0.05",
        "--seed", "15", "--set", "run.batch_timesteps=65536", "--set", "mlmc.level0=sample",
    ],
}  # fmt: skip

GOLDEN: dict[str, tuple[str, list[list[str]]]] = {'asian': ('0x1.6abfa7b023d54p+2',
           [['0x1.21bc000000000p+15',
             '0x1.92a9ffb4970b5p+17',
             '0x1.915aa0bb9b12cp+21',
             '0x1.046729f24cad7p+26',
             '0x1.9577e6151cb83p+30',
             '0x1.92a9ffb4970b5p+17',
             '0x1.915aa0bb9b12cp+21',
             '0x1.21bc000000000p+15'],
            ['0x1.3880000000000p+13',
             '0x1.9d08f6b9b5ef2p+8',
             '0x1.365ba7502a499p+11',
             '0x1.01564684f2954p+11',
             '0x1.4515fc99e3f81p+13',
             '0x1.b4ea12111bcabp+15',
             '0x1.c1bd7f6c399c3p+19',
             '0x1.3880000000000p+14'],
            ['0x1.3880000000000p+13',
             '0x1.be85468be3ec7p+8',
             '0x1.9a3a761e165e8p+8',
             '0x1.5523c7c8efc87p+7',
             '0x1.a1530898a4d66p+7',
             '0x1.c17c0f32816f0p+15',
             '0x1.d3f8f16adcaeap+19',
             '0x1.3880000000000p+15'],
            ['0x1.ae00000000000p+7',
             '0x1.1e1573d5dac72p+2',
             '0x1.9567a40ef2f72p+0',
             '0x1.4c0a208948e9cp-3',
             '0x1.4fb9d3e084823p-4',
             '0x1.576b32f273dc0p+10',
             '0x1.7d36ff9c35a54p+14',
             '0x1.ae00000000000p+10'],
            ['0x1.5000000000000p+5',
             '0x1.6d1b84eedb220p-4',
             '0x1.79c72a94f2f8fp-6',
             '0x1.5a01fc87f52cdp-11',
             '0x1.3caf0c8674ec2p-14',
             '0x1.4237001930ecdp+7',
             '0x1.ce43ef85ad1a1p+10',
             '0x1.5000000000000p+9']]),
 'european_call': ('0x1.4ee3cf28ee28fp+3',
                   [['0x1.d608000000000p+16',
                     '0x1.27664041eec50p+20',
                     '0x1.121e4b3d976e5p+25',
                     '0x1.516de9697ac90p+30',
                     '0x1.fb2c9af7b6f88p+35',
                     '0x1.27664041eec50p+20',
                     '0x1.121e4b3d976e5p+25',
                     '0x1.d608000000000p+16'],
                    ['0x1.3880000000000p+13',
                     '0x1.d410cc1d280f1p+10',
                     '0x1.e76c64b3e8294p+10',
                     '0x1.208a84d9a97a0p+12',
                     '0x1.283d78f26b308p+14',
                     '0x1.990da6590eba7p+16',
                     '0x1.84f568adebe11p+21',
                     '0x1.3880000000000p+14'],
                    ['0x1.3880000000000p+13',
                     '0x1.02da1ed21dbc3p+10',
                     '0x1.0d5ecfd0eac2ep+9',
                     '0x1.025449f7a41dbp+9',
                     '0x1.85e2d25ad0538p+9',
                     '0x1.94d464a9d866cp+16',
                     '0x1.85f624843ebe9p+21',
                     '0x1.3880000000000p+15'],
                    ['0x1.8f00000000000p+8',
                     '0x1.a66e9dc3bc464p+4',
                     '0x1.1334c39b49cc7p+3',
                     '0x1.279c60deff8f4p+2',
                     '0x1.f0ac7a9371d58p+1',
                     '0x1.27045634945a5p+12',
                     '0x1.400269bb99cf2p+17',
                     '0x1.8f00000000000p+11'],
                    ['0x1.3e00000000000p+7',
                     '0x1.fc84a11e90280p+1',
                     '0x1.22ce0c89e5706p-1',
                     '0x1.5dab0368f37b2p-4',
                     '0x1.531435ca4734ep-6',
                     '0x1.7c379cdbd5a90p+10',
                     '0x1.5ca20e21c451bp+15',
                     '0x1.3e00000000000p+11'],
                    ['0x1.0c00000000000p+6',
                     '0x1.7c50a22735a40p+0',
                     '0x1.2b6a195e51c50p-3',
                     '0x1.cded4f042fd0ap-7',
                     '0x1.ae53461992cecp-10',
                     '0x1.e0641bc246994p+9',
                     '0x1.322fe418714d7p+15',
                     '0x1.0c00000000000p+11'],
                    ['0x1.9000000000000p+4',
                     '0x1.2561150934e00p-3',
                     '0x1.249b81d73025ap-8',
                     '0x1.4fea775bf1ae3p-13',
                     '0x1.08f42fee99e70p-17',
                     '0x1.eed3df070e812p+7',
                     '0x1.5a91f17fd594dp+12',
                     '0x1.9000000000000p+10']]),
 'lookback_M4': ('0x1.143e29185ee2cp+4',
                 [['0x1.3cee000000000p+15',
                   '0x1.5de21004c32f7p+19',
                   '0x1.339b180991ed0p+24',
                   '0x1.660b017f2aa2cp+29',
                   '0x1.ff637d28d1918p+34',
                   '0x1.5de21004c32f7p+19',
                   '0x1.339b180991ed0p+24',
                   '0x1.3cee000000000p+15'],
                  ['0x1.3880000000000p+13',
                   '-0x1.238c0abce5420p+11',
                   '0x1.56359388d750ap+14',
                   '-0x1.5e55adb7581adp+15',
                   '0x1.68063e9cc1d4cp+18',
                   '0x1.53c33b0a9d2b4p+17',
                   '0x1.33c4a2dc2c922p+22',
                   '0x1.3880000000000p+15'],
                  ['0x1.3880000000000p+13',
                   '-0x1.6562ab5f4a8abp+10',
                   '0x1.1b9b73c573bbbp+11',
                   '-0x1.b2d0a77685298p+10',
                   '0x1.9d49af71d9c77p+11',
                   '0x1.51f82d1931d00p+17',
                   '0x1.3ad103bc814ebp+22',
                   '0x1.3880000000000p+17'],
                  ['0x1.1200000000000p+7',
                   '-0x1.8666b1af6ecf2p+1',
                   '0x1.99597b8a212f0p+0',
                   '-0x1.3221c8d363d4bp-2',
                   '0x1.088a12c53db27p-3',
                   '0x1.3ef1ccb1b6216p+11',
                   '0x1.1f5913dff8a83p+16',
                   '0x1.1200000000000p+13']]),
 'plain_mc': ('0x1.60ea36fb440bep+2',
              [['0x1.d6ac000000000p+14',
                '0x1.446d8f271fdfcp+17',
                '0x1.7d0b8873e3812p+21',
                '0x1.13ce7d1328aa2p+26',
                '0x1.cacceea5cdf26p+30',
                '0x1.446d8f271fdfcp+17',
                '0x1.7d0b8873e3812p+21',
                '0x1.d6ac000000000p+14']])}  # fmt: skip

GOLDEN["barrier_robust"] = (
    "0x1.680931b39f79ep+2",
    [
        [
            "0x1.9bab000000000p+16",
            "0x1.1faa6af714802p+19",
            "0x1.a5a70a28577a4p+23",
            "0x1.d27b781a2c640p+28",
            "0x1.5218e74d4fa9ep+34",
            "0x1.1faa6af714802p+19",
            "0x1.a5a70a28577a4p+23",
            "0x1.9bab000000000p+16",
        ],
        [
            "0x1.3880000000000p+13",
            "-0x1.82658e5b8a5e6p+9",
            "0x1.d9bb9c7d6185ep+11",
            "-0x1.cbbcd972819a8p+13",
            "0x1.b666c9545bb08p+16",
            "0x1.b215d1de204a4p+15",
            "0x1.53f05fde01923p+20",
            "0x1.3880000000000p+14",
        ],
        [
            "0x1.3880000000000p+13",
            "-0x1.4b6ead1a7acf9p+8",
            "0x1.82a81e2a8812ep+10",
            "-0x1.f72e59aa599f3p+10",
            "0x1.7bf7b7ecf11adp+13",
            "0x1.ad90146e16d0cp+15",
            "0x1.75212deee2188p+20",
            "0x1.3880000000000p+15",
        ],
        [
            "0x1.3880000000000p+13",
            "0x1.fcecf283c05a0p+6",
            "0x1.b677d5f2a7fb4p+9",
            "0x1.e56e0120fae60p+10",
            "0x1.b6f9aeb5fe4d8p+13",
            "0x1.b6138691d7450p+15",
            "0x1.92ea6d9ee11b0p+20",
            "0x1.3880000000000p+16",
        ],
        [
            "0x1.3880000000000p+13",
            "0x1.5ddf64201e080p+8",
            "0x1.381d39350d1ddp+9",
            "0x1.90b6953ca28eap+10",
            "0x1.0b957a1061104p+13",
            "0x1.aee031284e4acp+15",
            "0x1.b3b3708c2b016p+20",
            "0x1.3880000000000p+17",
        ],
        [
            "0x1.3880000000000p+13",
            "0x1.a3ff59000caadp+8",
            "0x1.4647b4393cb61p+9",
            "0x1.62de71a349803p+11",
            "0x1.4df3867be3028p+14",
            "0x1.bfbb46a3c632ap+15",
            "0x1.d6b32aada87a2p+20",
            "0x1.3880000000000p+18",
        ],
        [
            "0x1.3880000000000p+13",
            "0x1.173de662645bfp+8",
            "0x1.01b60645f8228p+8",
            "0x1.d4245da426f24p+8",
            "0x1.2c432572c48bdp+10",
            "0x1.afa3fffe94d57p+15",
            "0x1.ce62670350d84p+20",
            "0x1.3880000000000p+19",
        ],
        [
            "0x1.3880000000000p+13",
            "0x1.3d2fe4b123a82p+7",
            "0x1.254213d5bc4cbp+7",
            "0x1.0dcf8210b220fp+8",
            "0x1.52492696ea6dap+9",
            "0x1.a389d4dfe3efcp+15",
            "0x1.c86b1788317dbp+20",
            "0x1.3880000000000p+20",
        ],
        [
            "0x1.3880000000000p+13",
            "0x1.22df42eb72221p+6",
            "0x1.795efcacf4d85p+5",
            "0x1.378f7dc970989p+6",
            "0x1.9783aab521d0bp+7",
            "0x1.a32732a5cc151p+15",
            "0x1.c8e137ff5fbf1p+20",
            "0x1.3880000000000p+21",
        ],
        [
            "0x1.e000000000000p+4",
            "0x1.3171c6fbf85c1p-3",
            "0x1.50772d774ae91p-5",
            "0x1.006c20e92a850p-8",
            "0x1.b21ab4e6e9117p-11",
            "0x1.ef0c62474a634p+6",
            "0x1.3847d163b3e22p+12",
            "0x1.e000000000000p+13",
        ],
    ],
)


def run_case(tmp_path, name: str) -> tuple[str, list[list[str]]]:
    output = tmp_path / f"{name}.h5"
    done = run_cli("run", *CASES[name], "--backend", "numpy", "--output", str(output), "--quiet")
    assert done.returncode == 0, done.stderr
    with h5py.File(output, "r") as h5:
        price = float(h5.attrs["price"]).hex()
        sums = [[float(x).hex() for x in row] for row in h5["levels/sums"][()]]
    return price, sums


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_price_and_level_sums(tmp_path, name):
    price, sums = run_case(tmp_path, name)
    expected_price, expected_sums = GOLDEN[name]
    assert price == expected_price
    assert sums == expected_sums
