"""The checkpoint cadence shared by run, risk and book (mlmc_hpc.pricing.cadence)."""

from mlmc_hpc.pricing.cadence import Cadence


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_chance_writes_then_every_s_then_the_save_share():
    clock, writes = Clock(), []

    def write(cost: float) -> None:
        writes.append(clock.now)
        clock.now += cost

    cadence = Cadence(5.0, factor=20.0, clock=clock)
    assert cadence.offer(lambda: write(0.01))  # the first chance always writes
    clock.now += 4.9
    assert not cadence.offer(lambda: write(0.01))  # 4.9 s < max(5, 20 x 0.01)
    clock.now += 0.1
    assert cadence.offer(lambda: write(0.5))  # 5 s passed; this write takes 0.5 s
    clock.now += 9.9
    assert not cadence.due()  # now max(5, 20 x 0.5) = 10 s
    clock.now += 0.1
    assert cadence.due() and cadence.offer(lambda: write(0.0))
    assert len(writes) == 3


def test_a_cadence_that_is_always_due():
    cadence = Cadence(0.0, factor=0.0, clock=Clock())
    assert all(cadence.offer(lambda: None) for _ in range(5))


def test_a_cadence_whose_first_chance_waits():
    clock = Clock()
    cadence = Cadence(5.0, factor=20.0, clock=clock, first_due=False)
    assert not cadence.due()
    clock.now += 5.0
    assert cadence.offer(lambda: None)
