from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
about = {}
exec((HERE / "sktvnet" / "_version.py").read_text(), about)

setup(
    name="sktvnet",
    version=about["__version__"],
    description="TVNet and TV-L1 optical flow for scikit-learn users (torch backend, NumPy reference)",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.10",
    packages=find_packages(include=["sktvnet", "sktvnet.*"]),
    # The bundled pretrained weights (sktvnet.pretrained), safetensors files of a few kB, and
    # what they measured on the held-out benchmark (written by benchmarks/bench_heldout.py).
    package_data={"sktvnet": ["weights/*.safetensors", "weights/metrics.json"]},
    install_requires=[
        "numpy>=1.23",
        "scipy>=1.9",
        "scikit-learn>=1.6",
        "torch>=2.1",
        "joblib>=1.2",
        "tqdm>=4.60",
        "pillow>=9.0",
        "scikit-image>=0.21",
        "safetensors>=0.4",
    ],
    extras_require={
        # The test extra includes export's, so that CI runs the exported graphs for real.
        # pandas: FlowHistogram's set_output(transform="pandas") is tested, not skipped.
        "test": ["pytest>=7", "hypothesis>=6", "dask[distributed]>=2023.1", "pandas>=1.5",
                 "onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18"],
        "export": ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18"],
        "video": ["av>=10"],
        "benchmark": ["opencv-contrib-python-headless>=4.8"],
        "docs": ["sphinx>=7", "numpydoc>=1.6", "matplotlib>=3.6"],
    },
    entry_points={"console_scripts": ["sktvnet=sktvnet.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
        "Intended Audience :: Science/Research",
    ],
)
