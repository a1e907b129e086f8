"""``lstm-mnist download --data_dir DIR``: fetch the data once, e.g. on a login node.

Compute nodes of a cluster often have no internet. Run this where there is, into a folder every
node can read, then train with ``--data.data_dir DIR --data.download false``.
"""

from pathlib import Path

from lstm_mnist.core.data import DatasetName, MNISTDataModule
from lstm_mnist.core.errors import DatasetNotFoundError
from lstm_mnist.core.idx import missing_files
from lstm_mnist.runs.run import check_folder


def download(data_dir: str = "data", dataset: DatasetName = "mnist") -> None:
    """Download a dataset's four IDX files unless they are there; either way, check them.

    Sizes against headers, and md5s: "ready" means a fit will find them whole.

    Args:
        data_dir: Folder that will hold ``MNIST/raw`` or ``FashionMNIST/raw``.
        dataset: ``mnist`` or ``fashion_mnist``.
    """
    check_folder(Path(data_dir), "--data_dir")  # named as this command takes it
    data = MNISTDataModule(data_dir=data_dir, dataset=dataset, download=True)
    try:
        data.prepare_data()
    except DatasetNotFoundError as err:  # its advice is for `fit`; this command's is simpler
        files = ", ".join(missing_files(data.raw_folder))
        raise DatasetNotFoundError(
            f"{dataset} could not be downloaded into {data.raw_folder} ({err.reason}). Run this "
            f"command on a machine with internet and copy that folder from there, or put these "
            f"uncompressed IDX files in it: {files}"
        ) from err
    print(f"{dataset} is ready in {data.raw_folder}")
