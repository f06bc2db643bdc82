"""KServe's own Python client against a litelens API: run in the KServe venv (make kserve-venv), as
``python kserve_client.py BASE_URL MODEL`` with ``{"columns": [...], "rows": [[...], ...]}`` on stdin.

Prints one JSON object: the V2 health and readiness answers, the V2 infer outputs (name -> data),
the V1 ``:predict`` answer and the V1 ``:explain`` answer, each as KServe's client returned it."""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(base_url: str, model: str, request: dict) -> dict:
    columns, rows = request["columns"], np.asarray(request["rows"], dtype=np.float64)
    v2 = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=120))
    v1 = InferenceRESTClient(RESTConfig(protocol="v1", retries=0, timeout=300))
    try:
        inputs = []
        for j, name in enumerate(columns):
            tensor = InferInput(name=name, shape=[len(rows)], datatype="FP64")
            tensor.set_data_from_numpy(rows[:, j], binary_data=False)
            inputs.append(tensor)
        answer = await v2.infer(base_url, InferRequest(model_name=model, infer_inputs=inputs), model_name=model)
        instances = {"instances": rows.tolist()}
        return {
            "live": await v2.is_server_live(base_url),
            "ready": await v2.is_server_ready(base_url),
            "model_ready": await v2.is_model_ready(base_url, model),
            "v2_outputs": {output.name: output.as_numpy().tolist() for output in answer.outputs},
            "v1_predict": await v1.infer(base_url, instances, model_name=model),
            "v1_explain": await v1.explain(base_url, model, {**instances, "parameters": request.get("parameters", {})}),
        }
    finally:
        await v2.close()
        await v1.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], json.load(sys.stdin)))))
