"""The Processing provider ``rv``: ``rv:load_experiment`` and ``rv:predict``."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider

from .load_experiment_algorithm import LoadExperimentAlgorithm
from .predict_algorithm import PredictAlgorithm


class RvProvider(QgsProcessingProvider):
    def id(self):
        return "rv"

    def name(self):
        return "rv"

    def longName(self):
        return "rv: deep learning on satellite and aerial imagery"

    def loadAlgorithms(self):
        self.addAlgorithm(LoadExperimentAlgorithm())
        self.addAlgorithm(PredictAlgorithm())
