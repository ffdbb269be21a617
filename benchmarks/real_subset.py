"""Write the real CIFAR-10 subset (``../shared/data/cifar10_train_subset.npz``) as two extracted
``cifar-10-batches-py`` folders, for tuning and for reporting a recipe (docs/cpu_recipe.md):

    OUT/tune/     training: the photos of data_batch_1 and _2 (1,864);  test_batch: data_batch_3's 932
    OUT/report/   training: data_batch_1 to _3 (2,796);                 test_batch: data_batch_4's 932

    python benchmarks/real_subset.py --out /tmp/cifar
    python -m resnext_np.train --dataset cifar10 --data-dir /tmp/cifar/report --time-budget 5

The subset holds the first 932 photos of each official training batch, in file order.
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", default=os.path.join("..", "shared", "data", "cifar10_train_subset.npz"))
    parser.add_argument("--out", required=True)
    options = parser.parse_args(argv)
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
