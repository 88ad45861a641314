from pydantic import BaseModel


class Params(BaseModel):
    size: int = 1
