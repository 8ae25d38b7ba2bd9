"""What outlives a session: saved models (models, with their model_card and the keras_check of `.keras` files),
the class's drawings (drawings, drawing_rows, drawings_npz), the server's default model, and files written whole."""
