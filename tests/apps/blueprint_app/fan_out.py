"""A durable fan-out/fan-in in a blueprint, started over HTTP: the shape the product's jobs take.

POST /api/fanout with {"values": [...]} starts it; the orchestrator squares each value in parallel
activities and returns their sum.
"""
import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="fanout", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_fan_out(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        values = req.get_json()["values"]
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return func.HttpResponse('{"code": "UserError", "message": "body must be {\\"values\\": [numbers]}"}',
                                 status_code=400, mimetype="application/json")
    instance_id = await client.start_new("fan_out_fan_in", client_input=values)
    return client.create_check_status_response(req, instance_id)


@bp.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    values = context.get_input()
    squares = yield context.task_all([context.call_activity("square", v) for v in values])
    return {"count": len(squares), "sum": sum(squares)}


@bp.activity_trigger(input_name="value")
def square(value: float) -> float:
    return value * value
