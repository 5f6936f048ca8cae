"""String keys of the first-party plugins.

Keys are plain strings so that a config file stays readable and a third-party
plugin can register its own without touching rv. The constants are exported
from :mod:`rv`.
"""

#: Pixel value for "no label here" in segmentation arrays and rasters (nodata, outside the AOI).
IGNORE_CLASS_ID = 255

# Tasks
CHIP_CLASSIFICATION = "CHIP_CLASSIFICATION"
OBJECT_DETECTION = "OBJECT_DETECTION"
SEMANTIC_SEGMENTATION = "SEMANTIC_SEGMENTATION"

# Raster sources
GEOTIFF_SOURCE = "GEOTIFF_SOURCE"
IMAGE_SOURCE = "IMAGE_SOURCE"
GEOJSON_SOURCE = "GEOJSON_SOURCE"

# Label sources and stores
CHIP_CLASSIFICATION_GEOJSON = "CHIP_CLASSIFICATION_GEOJSON"
OBJECT_DETECTION_GEOJSON = "OBJECT_DETECTION_GEOJSON"
SEMANTIC_SEGMENTATION_RASTER = "SEMANTIC_SEGMENTATION_RASTER"

# Raster transformers, augmentors, analyzers
STATS_TRANSFORMER = "STATS_TRANSFORMER"
NODATA_AUGMENTOR = "NODATA_AUGMENTOR"
STATS_ANALYZER = "STATS_ANALYZER"

# Evaluators
CHIP_CLASSIFICATION_EVALUATOR = "CHIP_CLASSIFICATION_EVALUATOR"
OBJECT_DETECTION_EVALUATOR = "OBJECT_DETECTION_EVALUATOR"
SEMANTIC_SEGMENTATION_EVALUATOR = "SEMANTIC_SEGMENTATION_EVALUATOR"

# Backends
PYTORCH_CHIP_CLASSIFICATION = "PYTORCH_CHIP_CLASSIFICATION"
PYTORCH_OBJECT_DETECTION = "PYTORCH_OBJECT_DETECTION"
PYTORCH_SEMANTIC_SEGMENTATION = "PYTORCH_SEMANTIC_SEGMENTATION"

# Model defaults
RESNET18 = "RESNET18"
RESNET50 = "RESNET50"
EFFICIENTNET_B0 = "EFFICIENTNET_B0"
MOBILENETV3_LARGE = "MOBILENETV3_LARGE"

# Commands
ANALYZE = "ANALYZE"
CHIP = "CHIP"
TRAIN = "TRAIN"
PREDICT = "PREDICT"
EVAL = "EVAL"
BUNDLE = "BUNDLE"

ALL_COMMANDS = (ANALYZE, CHIP, TRAIN, PREDICT, EVAL, BUNDLE)

# Runners
LOCAL = "local"
INPROCESS = "inprocess"
AWS_BATCH = "aws_batch"

# Names later Raster Vision releases gave to the same things. Each is an alias
# in one registry group: ``builder(alias)`` returns the builder of the key it
# names, so a built config records that key and saved JSON is the same either
# way. Plain strings: keys registered by plugins (GEOJSON_SOURCE, ...) are
# named here without importing the plugin. (``rv.RASTERIO_SOURCE`` and
# ``rv.RASTERIZED_SOURCE`` are defined in ``rv/__init__.py``: the constants of
# this module are registered keys, and an alias is not one.)
#: registry group -> {alias: key}
KEY_ALIASES = {
    "raster_sources": {
        "RASTERIO_SOURCE": GEOTIFF_SOURCE,
        "RASTERIZED_SOURCE": GEOJSON_SOURCE,
    },
    # A task key given to LabelSourceConfig.builder(): the task's usual label source.
    "label_sources": {
        CHIP_CLASSIFICATION: CHIP_CLASSIFICATION_GEOJSON,
        OBJECT_DETECTION: OBJECT_DETECTION_GEOJSON,
        SEMANTIC_SEGMENTATION: SEMANTIC_SEGMENTATION_RASTER,
    },
}

# Raster Vision 0.8's TensorFlow backends, replaced by rv's PyTorch backends of
# the same task. Not aliases: their options (TF Object Detection API config
# templates, Keras settings) mean nothing to the PyTorch backends, so using one
# is an error that names the replacement.
REPLACED_BACKENDS = {
    "TF_OBJECT_DETECTION": PYTORCH_OBJECT_DETECTION,
    "KERAS_CLASSIFICATION": PYTORCH_CHIP_CLASSIFICATION,
    "TF_DEEPLAB": PYTORCH_SEMANTIC_SEGMENTATION,
}

# Raster Vision 0.8's model defaults of those backends (TensorFlow model zoo
# and Keras weights), with the closest of rv's model defaults: a suggestion
# in an error message, not an alias.
REPLACED_MODEL_DEFAULTS = {
    **dict.fromkeys(
        ("SSD_MOBILENET_V1_COCO", "SSD_MOBILENET_V2_COCO", "SSDLITE_MOBILENET_V2_COCO", "MOBILENET_V2"),
        MOBILENETV3_LARGE,
    ),
    **dict.fromkeys(
        (
            "SSD_INCEPTION_V2_COCO",
            "FASTER_RCNN_INCEPTION_V2_COCO",
            "FASTER_RCNN_RESNET50_COCO",
            "RFCN_RESNET101_COCO",
            "FASTER_RCNN_RESNET101_COCO",
            "FASTER_RCNN_INCEPTION_RESNET_V2_ATROUS_COCO",
            "FASTER_RCNN_NAS",
            "MASK_RCNN_INCEPTION_RESNET_V2_ATROUS_COCO",
            "MASK_RCNN_INCEPTION_V2_COCO",
            "MASK_RCNN_RESNET101_ATROUS_COCO",
            "MASK_RCNN_RESNET50_ATROUS_COCO",
            "RESNET50_IMAGENET",
            "XCEPTION_65",
        ),
        RESNET50,
    ),
}

# Which distribution provides which first-party key, so that an unknown key
# can name the package to install.
FIRST_PARTY_PROVIDERS = {
    GEOJSON_SOURCE: "rv-geojson",
    CHIP_CLASSIFICATION_GEOJSON: "rv-geojson",
    OBJECT_DETECTION_GEOJSON: "rv-geojson",
    PYTORCH_CHIP_CLASSIFICATION: "rv-pytorch",
    PYTORCH_OBJECT_DETECTION: "rv-pytorch",
    PYTORCH_SEMANTIC_SEGMENTATION: "rv-pytorch",
    RESNET18: "rv-pytorch",
    RESNET50: "rv-pytorch",
    EFFICIENTNET_B0: "rv-pytorch",
    MOBILENETV3_LARGE: "rv-pytorch",
    AWS_BATCH: "rv-aws",
    "s3": "rv-aws",
}
