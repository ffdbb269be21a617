"""The PyTorch names a tutorial uses behave as PyTorch's (checked against PyTorch where installed)."""

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.data import ArrayDataset, DataLoader


def torch_or_skip():
    return pytest.importorskip("torch")


def values(rng, *shape):
    return rng.standard_normal(shape)


# ------------------------------------------------------------------------ Tensor names
def test_size_numel_dim_view_and_item():
    x = mg.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(0) == 2 and x.size(-1) == 4
    assert x.numel() == 24 and mg.numel(x) == 24 and x.dim() == 3
    assert x.view(6, 4).shape == (6, 4) and x.view(-1).shape == (24,)
    assert mg.tensor([[3.5]]).item() == 3.5
    with pytest.raises(IndexError, match="size\\(dim=3\\) is out of range for a tensor with 3 dimensions"):
        x.size(3)
    with pytest.raises(ValueError, match="item\\(\\) needs a tensor with one element, got shape \\(2, 3, 4\\)"):
        x.item()


def test_flatten_from_dim_1_as_the_tutorial():
    x = mg.tensor(np.arange(2 * 16 * 5 * 5, dtype=np.float32).reshape(2, 16, 5, 5))
    flat = mg.flatten(x, 1)
    assert flat.shape == (2, 400)
    np.testing.assert_array_equal(flat.data, x.data.reshape(2, 400))
    with pytest.raises(TypeError, match="minigrad.flatten expects a Tensor, got ndarray"):
        mg.flatten(x.data, 1)


def test_float_and_double_convert_and_carry_the_gradient_back():
    x = mg.tensor([1.0, -2.0], dtype=np.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and x.double() is x
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, [2.0, -4.0])
    assert mg.tensor([1, 2]).float().dtype == np.float32


def test_max_with_dim_returns_values_and_indices_like_torch():
    torch = torch_or_skip()
    data = values(np.random.default_rng(0), 4, 5).astype(np.float32)
    x = mg.tensor(data, requires_grad=True)
    result = mg.max(x, 1)
    expected = torch.max(torch.tensor(data), 1)
    np.testing.assert_array_equal(result.values.data, expected.values.numpy())
    np.testing.assert_array_equal(result.indices.data, expected.indices.numpy())
    _, predicted = x.max(dim=0, keepdim=True)
    assert predicted.shape == (1, 5)
    np.testing.assert_array_equal(x.argmax(dim=1).data, torch.argmax(torch.tensor(data), 1).numpy())
    np.testing.assert_array_equal(mg.argmax(x, 1).data, expected.indices.numpy())
    assert x.max().item() == data.max() and x.max(axis=1).shape == (4,)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_match_torch_values_and_gradients(name, dim):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    data, weights = values(rng, 3, 4), values(rng, 3, 4)
    ours = mg.tensor(data, requires_grad=True)
    (getattr(F, name)(ours, dim=dim) * mg.tensor(weights)).sum().backward()
    theirs = torch.tensor(data, requires_grad=True)
    out = getattr(torch.nn.functional, name)(theirs, dim=dim)
    (out * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(getattr(mg, name)(mg.tensor(data), dim).data, out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(getattr(mg.tensor(data), name)(dim).data, out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_softmax_refuses_an_axis_it_does_not_have():
    with pytest.raises(ValueError, match="softmax: dim=2 is not an axis of a tensor with 2 dimensions"):
        F.softmax(mg.zeros(2, 3), dim=2)


def test_sin_cos_linspace_and_dtype_names_match_torch():
    torch = torch_or_skip()
    x = mg.linspace(-3.0, 3.0, 7, dtype=mg.float)
    assert x.dtype == np.float32 and mg.double == np.float64 and mg.long == np.int64
    np.testing.assert_allclose(x.data, torch.linspace(-3.0, 3.0, 7).numpy())
    np.testing.assert_allclose(mg.sin(x).data, torch.sin(torch.linspace(-3.0, 3.0, 7)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(mg.cos(x).data, torch.cos(torch.linspace(-3.0, 3.0, 7)).numpy(), rtol=1e-6)


def test_integer_tensors_index_lists_as_the_tutorial_does():
    classes = ("plane", "car", "bird")
    predicted = mg.tensor([2, 0])
    assert [classes[predicted[j]] for j in range(2)] == ["bird", "plane"]
    assert [classes[label] for label, prediction in zip(predicted, predicted) if label == prediction] == ["bird", "plane"]
    with pytest.raises(TypeError, match="only one-element integer tensors can be used as an index, got dtype float32"):
        classes[mg.tensor(1.0)]


# ------------------------------------------------------------------------ creation
def test_tensor_copies_from_numpy_shares_and_numpy_returns_a_view():
    array = np.zeros(3, dtype=np.float32)
    copied, shared = mg.tensor(array), mg.from_numpy(array)
    array[0] = 5.0
    assert copied.data[0] == 0.0 and shared.data[0] == 5.0
    shared.numpy()[1] = 7.0
    assert array[1] == 7.0
    assert mg.tensor([1.0]).dtype == np.float32  # Python floats still become float32
    with pytest.raises(TypeError, match="from_numpy expects a numpy.ndarray, got list"):
        mg.from_numpy([1.0])


def test_device_cpu_is_accepted_and_others_refused():
    assert mg.zeros(2, device="cpu").shape == (2,)
    assert mg.randn((), device=mg.device("cpu")).shape == ()
    with pytest.raises(ValueError, match="device must be 'cpu' or None, got 'cuda:0'"):
        mg.ones(2, device="cuda:0")
    with pytest.raises(ValueError, match="device must be 'cpu' or None, got 'mps'"):
        mg.device("mps")


# ------------------------------------------------------------------------ nn and functional
def test_nn_functional_is_minigrad_functional():
    import minigrad.functional

    for name in ("relu", "cross_entropy", "softmax", "log_softmax", "max_pool2d", "conv2d"):
        assert getattr(F, name) is getattr(minigrad.functional, name)


def test_tutorial_layers_match_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    images, labels = values(rng, 4, 6, 10, 10).astype(np.float32), np.array([1, 0, 3, 2])
    pooled = nn.MaxPool2d(2, 2)(mg.tensor(images))
    np.testing.assert_array_equal(pooled.data, torch.nn.MaxPool2d(2, 2)(torch.tensor(images)).numpy())
    logits = values(rng, 4, 10).astype(np.float32)
    ours = nn.CrossEntropyLoss()(mg.tensor(logits), mg.tensor(labels))
    theirs = torch.nn.CrossEntropyLoss()(torch.tensor(logits), torch.tensor(labels))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_module_to_takes_a_device_or_a_dtype_and_returns_the_module():
    layer = nn.Linear(3, 2)
    assert layer.to("cpu") is layer and layer.weight.dtype == np.float32
    assert layer.to(mg.device("cpu"), dtype=np.float64) is layer and layer.weight.dtype == np.float64
    assert layer.to("cpu", mg.float).weight.dtype == np.float32
    with pytest.raises(ValueError, match="device must be 'cpu' or None, got 'cuda'"):
        layer.to("cuda")
    with pytest.raises(TypeError, match="Module.to\\(\\) converts to a floating dtype, got int64"):
        layer.to(np.int64)


def test_save_and_load_a_state_dict_with_weights_only(tmp_path):
    net = nn.Linear(3, 2)
    path = tmp_path / "net.pth"
    mg.save(net.state_dict(), path)
    other = nn.Linear(3, 2)
    other.load_state_dict(mg.load(path, weights_only=True))
    np.testing.assert_array_equal(other.weight.data, net.weight.data)
    with pytest.raises(ValueError, match="weights_only must be True"):
        mg.load(path, weights_only=False)


def test_data_loader_yields_tensors_when_asked():
    dataset = ArrayDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
    images, labels = next(iter(DataLoader(dataset, batch_size=2, as_tensors=True)))
    assert isinstance(images, mg.Tensor) and isinstance(labels, mg.Tensor)
    assert labels.size(0) == 2 and images.dtype == np.float32
    plain_images, _ = next(iter(DataLoader(dataset, batch_size=2)))
    assert isinstance(plain_images, np.ndarray)


# ------------------------------------------------------------------------ .grad
def test_grad_is_a_tensor_without_history_and_accumulates_into_a_new_one():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    assert isinstance(first, mg.Tensor) and not first.requires_grad and first.is_leaf
    np.testing.assert_array_equal(first.data, [2.0, 4.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])
    np.testing.assert_array_equal(first.data, [2.0, 4.0])  # a kept grad is not changed under the caller
    assert np.asarray(x.grad).dtype == np.float32


def test_optimisers_step_with_tensor_grads_like_torch():
    torch = torch_or_skip()
    data = np.array([[0.5, -1.0], [2.0, 0.25]])
    ours = nn.Linear(2, 2).to(mg.double)
    theirs = torch.nn.Linear(2, 2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    our_opt = mg.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        our_opt.zero_grad()
        their_opt.zero_grad()
        (ours(mg.tensor(data)) ** 2).sum().backward()
        (theirs(torch.tensor(data)) ** 2).sum().backward()
        our_opt.step()
        their_opt.step()
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-12)


def test_grad_accepts_only_none_or_a_tensor_of_the_same_shape():
    x = mg.zeros(2, 3)
    x.grad = mg.ones(2, 3)
    x.grad = None
    with pytest.raises(TypeError, match="grad must be None or a Tensor of shape \\(2, 3\\), got ndarray"):
        x.grad = np.ones((2, 3))
    with pytest.raises(TypeError, match="grad must be None or a Tensor of shape \\(2, 3\\), got a Tensor of shape \\(3,\\)"):
        x.grad = mg.ones(3)


# --------------------------------------------------------------- issue 23: stack, cat, array hints
def test_stack_and_cat_match_torch_and_refuse_arrays_with_a_hint():
    a, b = np.arange(6.0).reshape(2, 3), -np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mg.stack([mg.tensor(a), mg.tensor(b)], 1).data, np.stack([a, b], 1))
    np.testing.assert_array_equal(mg.cat([mg.tensor(a), mg.tensor(b)], dim=-1).data, np.concatenate([a, b], -1))
    with pytest.raises(TypeError, match=r"stack \(element 1\) expects a Tensor, got ndarray; wrap .*from_numpy"):
        mg.stack([mg.tensor(a), b])
    with pytest.raises(TypeError, match="a sequence of Tensors, got a single Tensor"):
        mg.cat(mg.tensor(a))
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(mg.stack([mg.tensor(a), mg.tensor(b)], -1).data,
                                  torch.stack([torch.tensor(a), torch.tensor(b)], -1).numpy())


def test_a_layer_given_a_numpy_batch_says_how_to_get_tensors():
    images = np.zeros((2, 3, 8, 8), np.float32)
    for layer in (mg.nn.Conv2d(3, 4, 3), mg.nn.BatchNorm2d(3), mg.nn.ReLU(), mg.nn.MaxPool2d(2)):
        with pytest.raises(TypeError, match="got ndarray.*from_numpy.*as_tensors=True"):
            layer(images)


def test_a_pytorch_users_script_with_its_own_dataset_is_reproducible_after_manual_seed():
    """Issue 23's script: a Dataset written the PyTorch way, imported from minigrad.utils.data,
    shuffled without a seed; manual_seed(0) must give the same first loss every run."""
    from minigrad.utils.data import DataLoader, Dataset

    class Blobs(Dataset):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.images = rng.standard_normal((40, 1, 6, 6)).astype(np.float32)
            self.labels = rng.integers(0, 3, 40)

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return self.images[i], int(self.labels[i])

    def first_loss():
        mg.manual_seed(0)
        model = mg.nn.Sequential(mg.nn.Conv2d(1, 4, 3), mg.nn.ReLU(), mg.nn.Dropout(0.2), mg.nn.Flatten(), mg.nn.Linear(64, 3))
        xb, yb = next(iter(DataLoader(Blobs(), batch_size=8, shuffle=True, as_tensors=True)))
        return mg.nn.CrossEntropyLoss()(model(xb), yb).item()

    assert first_loss() == first_loss()
