"""An app assembled from a durable blueprint, as the product's entry script assembles its own."""
import azure.durable_functions as df
import azure.functions as func

from fan_out import bp

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)
