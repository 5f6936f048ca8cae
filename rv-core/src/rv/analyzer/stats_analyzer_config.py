"""STATS_ANALYZER: per-channel statistics written to stats.json."""

from __future__ import annotations

import attrs

from rv.analyzer.analyzer_config import AnalyzerConfig, AnalyzerConfigBuilder
from rv.config import field


@attrs.frozen
class StatsAnalyzerConfig(AnalyzerConfig):
    """Streaming per-channel mean, std and percentiles over sampled windows (nodata excluded)."""

    sample_prob: float = field(default=0.1, doc="share of windows read (1.0: every pixel)")
    chip_size: int = field(default=300, doc="window size of the sampling")
    seed: int = field(default=0, doc="random seed of the sampling")

    def create(self):
        from rv.analyzer.stats_analyzer import StatsAnalyzer

        return StatsAnalyzer(sample_prob=self.sample_prob, chip_size=self.chip_size, seed=self.seed)

    def output_names(self) -> list[str]:
        return ["stats.json"]

    def can_merge_parts(self) -> bool:
        return True


class StatsAnalyzerConfigBuilder(AnalyzerConfigBuilder):
    """Builder of :class:`StatsAnalyzerConfig`."""

    config_class = StatsAnalyzerConfig

    def with_sample_prob(self, sample_prob: float) -> StatsAnalyzerConfigBuilder:
        """Share of windows read (1.0 reads every pixel)."""
        return self._with(sample_prob=float(sample_prob))

    def with_chip_size(self, chip_size: int) -> StatsAnalyzerConfigBuilder:
        """Window size of the sampling."""
        return self._with(chip_size=int(chip_size))
