from pydantic import BaseModel


class Same(BaseModel):
    x: int = 1
