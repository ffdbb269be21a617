"""PyTorch's beginner tutorial "Training a classifier", run by minigrad on CIFAR-10 photos or textures.

The model, loss, optimiser, training loop, save/load and evaluation below are the tutorial's code
as written (https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html); only two things
differ:

* the imports: ``import minigrad as torch`` and friends instead of ``import torch``;
* the data: torchvision is not used.  The images come from NumPy arrays -- a few hundred real
  CIFAR-10 photos from ``../shared/data/cifar10_train_subset.npz`` when that file exists, else the
  synthetic image set of ``resnext_np.data`` -- normalised as the tutorial's
  ``transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))`` does, served by a data set class
  written the PyTorch way (``__len__`` and ``__getitem__``), and batched by
  ``minigrad.utils.data.DataLoader(..., as_tensors=True)``, which yields Tensors as PyTorch's does.

The tutorial trains on 50,000 images and prints every 2000 mini-batches; the options below shrink
that so the example runs in seconds:

    python examples/pytorch_classifier.py --images 3000 --epochs 2 --print-every 250

``main`` returns the printed running losses (the training-loss curve) and the test accuracy in %.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.optim as optim
from minigrad.utils.data import DataLoader, Dataset

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10_train_subset.npz"


def load_images(data_path, num_train, num_test):
    """``(train_images, train_labels, test_images, test_labels, classes, source)``: NumPy arrays, the
    class names and one line that says which images these are (real photos, or the synthetic fallback).

    Test images are the *last* ``num_test`` of the file (never trained on).  The images are
    scaled to [-1, 1] as the tutorial's ``ToTensor()`` then ``Normalize(0.5, 0.5)`` do.
    """
    if data_path is not None and Path(data_path).exists():
        archive = np.load(data_path)
        images, labels, classes = archive["images"], archive["labels"], tuple(archive["class_names"])
        source = f"data: real CIFAR-10 photos from {data_path}"
    else:
        from resnext_np.data import synthetic_images

        synthetic = synthetic_images(num_train + num_test, seed=0)
        images, labels, classes = synthetic.images, synthetic.labels, tuple(synthetic.class_names)
        source = (f"data: no CIFAR-10 subset at {data_path}, so synthetic textures instead "
                  f"(resnext_np.data: 10 texture classes, not CIFAR-10's; pass --data to use real photos)")
    if num_train + num_test > len(images):
        raise ValueError(f"asked for {num_train} + {num_test} images, the data holds {len(images)}")
    images = ((images.astype(np.float32) / 255.0) - 0.5) / 0.5
    return (images[:num_train], labels[:num_train], images[-num_test:], labels[-num_test:], classes, source)


class ImageDataset(Dataset):
    """One ``(image, label)`` example at a time, as a ``torch.utils.data.Dataset`` subclass is written."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], int(self.labels[index])


# ----------------------------------------------------------------- the tutorial's network
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def main(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch's beginner tutorial \"Training a classifier\", run by minigrad "
                                                 "(real CIFAR-10 photos from --data, else synthetic textures).")
    parser.add_argument("--images", type=int, default=3000, help="training images (tutorial: 50000)")
    parser.add_argument("--test-images", type=int, default=100, help="held-out images (tutorial: 10000)")
    parser.add_argument("--epochs", type=int, default=2, help="tutorial: 2")
    parser.add_argument("--batch-size", type=int, default=4, help="tutorial: 4")
    parser.add_argument("--print-every", type=int, default=250, help="mini-batches (tutorial: 2000)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the CIFAR subset .npz; synthetic when missing")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    train_x, train_y, test_x, test_y, classes, source = load_images(args.data, args.images, args.test_images)
    print(source)
    batch_size = args.batch_size
    trainloader = DataLoader(ImageDataset(train_x, train_y), batch_size=batch_size, shuffle=True,
                             seed=args.seed, as_tensors=True)
    testloader = DataLoader(ImageDataset(test_x, test_y), batch_size=batch_size, shuffle=False,
                            as_tensors=True)
    printed_losses = []

    # ------------------------------------------------------------- the tutorial, unchanged
    net = Net()

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    for epoch in range(args.epochs):  # loop over the dataset multiple times

        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % args.print_every == args.print_every - 1:    # print every print_every mini-batches
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / args.print_every:.3f}')
                printed_losses.append(running_loss / args.print_every)
                running_loss = 0.0

    print('Finished Training')

    with tempfile.TemporaryDirectory() as folder:
        PATH = str(Path(folder) / 'cifar_net.pth')
        torch.save(net.state_dict(), PATH)

        dataiter = iter(testloader)
        images, labels = next(dataiter)

        net = Net()
        net.load_state_dict(torch.load(PATH, weights_only=True))

    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    print('Predicted: ', ' '.join(f'{classes[predicted[j]]:5s}' for j in range(4)))

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    # again no gradients needed
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            # collect the correct predictions for each class
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    # print accuracy for each class
    for classname, correct_count in correct_pred.items():
        accuracy = 100 * float(correct_count) / max(total_pred[classname], 1)  # (a small test set may miss a class)
        print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
    return printed_losses, 100 * correct / total


if __name__ == "__main__":
    main()
