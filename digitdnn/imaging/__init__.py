"""Pictures into network inputs: a drawing or a photo becomes a 28x28 image made the way MNIST digits were made."""
