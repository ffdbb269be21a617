"""Write the real CIFAR-10 subset (``../shared/data/cifar10_train_subset.npz``) as two extracted
``cifar-10-batches-py`` folders, for tuning and for reporting a recipe (docs/cpu_recipe.md):

    OUT/tune/     training: the photos of data_batch_1 and _2 (1,864);  test_batch: data_batch_3's 932
    OUT/report/   training: data_batch_1 to _3 (2,796);                 test_batch: data_batch_4's 932

    python benchmarks/real_subset.py --out /tmp/cifar
    python -m resnext_np.train --dataset cifar10 --data-dir /tmp/cifar/report --time-budget 5

The subset holds the first 932 photos of each official training batch, in file order. It is not
part of this repository: the machines this project was measured on keep it beside the clone, in
``../shared/data``; elsewhere, pass ``--subset PATH`` to a copy of it (an ``.npz`` holding
``images`` (N, 3, 32, 32) uint8, ``labels`` and ``class_names``).
"""

import argparse
import os
import pickle

import numpy as np

PER_BATCH = 932


def write_folder(root, images, labels, class_names, train_index, test_index):
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "batches.meta"), "wb") as stream:
        pickle.dump({b"label_names": [str(name).encode() for name in class_names]}, stream)
    for number, part in enumerate(np.array_split(train_index, 5), start=1):
        with open(os.path.join(folder, f"data_batch_{number}"), "wb") as stream:
            pickle.dump({b"data": images[part].reshape(len(part), -1), b"labels": labels[part].tolist()}, stream)
    with open(os.path.join(folder, "test_batch"), "wb") as stream:
        pickle.dump({b"data": images[test_index].reshape(len(test_index), -1), b"labels": labels[test_index].tolist()},
                    stream)


DEFAULT_SUBSET = os.path.join("..", "shared", "data", "cifar10_train_subset.npz")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python benchmarks/real_subset.py",
        description="Write the real CIFAR-10 subset (3,728 training photos) as two extracted cifar-10-batches-py "
                    "folders: OUT/tune (train on data_batch_1-2, test on _3) and OUT/report (train on _1-3, "
                    "test on _4), for python -m resnext_np.train --dataset cifar10 --data-dir OUT/report.")
    parser.add_argument("--subset", default=DEFAULT_SUBSET,
                        help=f"the subset's .npz file (default: {DEFAULT_SUBSET}, beside the clone on the machines "
                             "this project was measured on)")
    parser.add_argument("--out", required=True, help="folder to write tune/ and report/ into")
    options = parser.parse_args(argv)
    if not os.path.isfile(options.subset):
        parser.error(f"no CIFAR-10 subset at {options.subset}: this repository does not ship it; "
                     f"pass --subset PATH to a copy (an .npz with images, labels and class_names)")
    with np.load(options.subset) as subset:
        images, labels, class_names = subset["images"], subset["labels"], subset["class_names"]
    if len(images) != 4 * PER_BATCH:
        parser.error(f"expected {4 * PER_BATCH} photos (932 from each of 4 batches), got {len(images)}")
    batch = [np.arange(k * PER_BATCH, (k + 1) * PER_BATCH) for k in range(4)]
    write_folder(os.path.join(options.out, "tune"), images, labels, class_names, np.concatenate(batch[:2]), batch[2])
    write_folder(os.path.join(options.out, "report"), images, labels, class_names, np.concatenate(batch[:3]), batch[3])
    print(f"wrote {options.out}/tune and {options.out}/report")


if __name__ == "__main__":
    main()
