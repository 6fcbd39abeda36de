from mksap_assets.domain.engine.progress import MAX_SLOW_WARNINGS, Progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_line_every_n_questions_with_rate_and_eta():
    clock = Clock()
    progress = Progress(total=250, every=100, clock=clock)
    lines = []
    for index in range(250):
        clock.now += 0.5
        lines += progress.record(f"q{index}", 0.5)
    info = [message for level, message in lines if level == "info"]
    assert len(info) == 3  # at 100, 200 and the end
    assert info[0].startswith("100/250 questions (2.0/s, ETA 75s")


def test_slow_questions_warn_against_the_running_median_and_are_capped():
    progress = Progress(total=1000, clock=Clock())
    for index in range(30):
        assert progress.record(f"q{index}", 1.0) == []
    [(level, message)] = progress.record("slowpoke", 2.5)
    assert level == "warning" and "slowpoke took 2.50s" in message
    warnings = [m for i in range(50) for lvl, m in progress.record(f"s{i}", 10.0) if lvl == "warning"]
    assert len(warnings) == MAX_SLOW_WARNINGS - 1 and progress.slow > MAX_SLOW_WARNINGS
