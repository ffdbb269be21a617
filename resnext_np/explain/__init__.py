"""See a grouped convolution: pictures drawn from the arrays the library itself computes.

``python -m resnext_np.explain {groups,im2col,forms,algorithms,step,readme}`` (see ``__main__``).
The package keeps the numbers apart from the drawing:

- ``conv_data``, ``block_data``: the records a picture shows, each array obtained by calling the
  library (``im2col``/``col2im``, the convolution kernels under ``conv_algorithm``, the form
  converters, ``conv.choose``). Tests check these records against the library and its reference.
- ``text``: the same records as terminal text.
- ``plotting``, ``draw_conv``, ``draw_block``: matplotlib (imported lazily, Agg backend) that only
  lays those arrays out.

It reads ``minigrad.kernels`` directly, which the rest of ``resnext_np`` does not: showing the
kernels is its purpose (ARCHITECTURE.md).
"""
