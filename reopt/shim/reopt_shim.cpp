// The few LLVM operations jitlink-reopt needs that LLVM's C API (and so
// inkwell) does not offer: cloning single functions into a new module
// (ORC's CompileOnDemandLayer does the same with CloneModule), splitting a
// block to insert a cold call, and loop discovery. Everything else (parsing,
// linking modules, pass pipelines, code generation) goes through inkwell.
//
// Every entry point is `extern "C"`, never throws (LLVM is built without
// exceptions) and takes the C API's opaque handles.

#include "llvm-c/Core.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Analysis/LoopInfo.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DebugInfo.h"
#include "llvm/IR/Dominators.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/MDBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/ValueMapper.h"

#include <cstdint>
#include <cstring>
#include <string>

using namespace llvm;

namespace {

// The function whose block addresses a constant holds (computed-goto
// tables such as Lua's `disptab`), or null. Such a global belongs with that
// function's code: each compiled version gets its own private copy.
const Function *blockAddressOwner(const Constant *C, unsigned Depth = 0) {
    if (auto *BA = dyn_cast<BlockAddress>(C))
        return BA->getFunction();
    if (Depth > 8 || isa<GlobalValue>(C))
        return nullptr;
    for (const Use &U : C->operands())
        if (auto *Op = dyn_cast<Constant>(U.get()))
            if (const Function *F = blockAddressOwner(Op, Depth + 1))
                return F;
    return nullptr;
}

bool ownedByFunction(const GlobalValue *GV) {
    auto *G = dyn_cast<GlobalVariable>(GV);
    return G && G->hasInitializer() && blockAddressOwner(G->getInitializer());
}

// Maps every global the cloned code references to a declaration in the
// destination module (created on first use); constant global variables may
// instead get an `available_externally` copy (definition filled in later).
struct DeclMaterializer final : ValueMaterializer {
    Module *Dst;
    uint64_t ConstLimit; // bytes; 0 = no available_externally constants
    SmallVector<std::pair<GlobalVariable *, const GlobalVariable *>, 8> Pending;
    SmallPtrSet<const Function *, 8> Defs;
    // Block-address tables of functions defined here: private copies.
    SmallVector<std::pair<GlobalVariable *, const GlobalVariable *>, 2> Owned;

    DeclMaterializer(Module *D, uint64_t Limit) : Dst(D), ConstLimit(Limit) {}

    Value *materialize(Value *V) override {
        auto *GV = dyn_cast<GlobalValue>(V);
        if (!GV || GV->getParent() == Dst)
            return nullptr;
        if (GlobalValue *Existing = Dst->getNamedValue(GV->getName()))
            return Existing;
        if (auto *F = dyn_cast<Function>(GV)) {
            Function *NF = Function::Create(F->getFunctionType(), GlobalValue::ExternalLinkage,
                                            F->getAddressSpace(), F->getName(), Dst);
            NF->copyAttributesFrom(F);
            return NF;
        }
        Type *Ty = GV->getValueType();
        bool IsConst = false;
        if (auto *G = dyn_cast<GlobalVariable>(GV))
            IsConst = G->isConstant();
        auto *NG = new GlobalVariable(*Dst, Ty, IsConst, GlobalValue::ExternalLinkage, nullptr,
                                      GV->getName(), nullptr, GV->getThreadLocalMode(),
                                      GV->getType()->getAddressSpace());
        if (auto *G = dyn_cast<GlobalVariable>(GV)) {
            NG->copyAttributesFrom(G);
            const Function *Owner = G->hasInitializer() ? blockAddressOwner(G->getInitializer()) : nullptr;
            if (Owner && Defs.count(Owner))
                Owned.push_back({NG, G});
            else if (ConstLimit && G->isConstant() && G->hasInitializer() && Ty->isSized() &&
                Dst->getDataLayout().getTypeAllocSize(Ty) <= ConstLimit)
                Pending.push_back({NG, G});
        } else {
            NG->setVisibility(GV->getVisibility());
            NG->setDSOLocal(GV->isDSOLocal());
        }
        return NG;
    }
};

Function *declareLike(Module *Dst, Function *F) {
    Function *NF = Function::Create(F->getFunctionType(), GlobalValue::ExternalLinkage, F->getAddressSpace(),
                                    F->getName(), Dst);
    NF->copyAttributesFrom(F);
    return NF;
}

} // namespace

extern "C" {

// Makes every definition of a (linked, whole-program) module visible across
// partitions: local symbols get unique names and hidden visibility, weak and
// linkonce definitions become strong (there is one copy now), every
// definition is dso_local, thread-locals use the general-dynamic model (the
// only one a JIT link can satisfy for code in its own links), and the
// -O0 attributes `noinline`/`optnone` go (they would stop every optimiser).
// Returns the number of aliases and ifuncs (unsupported), 0 when none.
unsigned reopt_prepare(LLVMModuleRef MRef) {
    Module *M = unwrap(MRef);
    StripDebugInfo(*M);
    unsigned Counter = 0;
    auto Fix = [&](GlobalValue &GV) {
        if (GV.isDeclaration()) {
            if (GV.isThreadLocal())
                GV.setThreadLocalMode(GlobalValue::GeneralDynamicTLSModel);
            return;
        }
        if (GV.hasLocalLinkage() || !GV.hasName()) {
            std::string Base = GV.hasName() ? GV.getName().str() : std::string("__reopt_anon");
            GV.setName(Base + ".reopt." + std::to_string(Counter++));
            GV.setLinkage(GlobalValue::ExternalLinkage);
            GV.setVisibility(GlobalValue::HiddenVisibility);
        } else if (GV.hasAvailableExternallyLinkage()) {
            return; // handled below
        } else if (!GV.hasAppendingLinkage()) {
            GV.setLinkage(GlobalValue::ExternalLinkage);
        }
        if (!GV.hasAppendingLinkage())
            GV.setDSOLocal(true);
        if (GV.isThreadLocal())
            GV.setThreadLocalMode(GlobalValue::GeneralDynamicTLSModel);
    };
    for (Function &F : *M) {
        if (F.hasAvailableExternallyLinkage()) {
            F.deleteBody(); // the real definition comes from elsewhere
            F.setLinkage(GlobalValue::ExternalLinkage);
            continue;
        }
        Fix(F);
        F.removeFnAttr(Attribute::NoInline);
        F.removeFnAttr(Attribute::OptimizeNone);
        for (Instruction &I : instructions(F))
            if (auto *CB = dyn_cast<CallBase>(&I))
                CB->removeFnAttr(Attribute::NoInline);
    }
    for (GlobalVariable &G : M->globals()) {
        if (G.hasAvailableExternallyLinkage()) {
            G.setInitializer(nullptr);
            G.setLinkage(GlobalValue::ExternalLinkage);
            continue;
        }
        Fix(G);
    }
    return static_cast<unsigned>(M->alias_size() + M->ifunc_size());
}

// A module with every global variable of M defined and every function
// declared (the eager data partition). Same context as M.
LLVMModuleRef reopt_clone_globals(LLVMModuleRef MRef) {
    Module *M = unwrap(MRef);
    ValueToValueMapTy VMap;
    std::unique_ptr<Module> C =
        CloneModule(*M, VMap, [](const GlobalValue *GV) { return isa<GlobalVariable>(GV) && !ownedByFunction(GV); });
    return wrap(C.release());
}

// True if F's block addresses are taken (computed goto): such a function is
// never copied into another partition for inlining.
int reopt_has_address_taken_blocks(LLVMValueRef FRef) {
    Function *F = unwrap<Function>(FRef);
    for (BasicBlock &BB : *F)
        if (BB.hasAddressTaken())
            return 1;
    return 0;
}

// Number of instructions of F (its size for inlining budgets).
unsigned reopt_inst_count(LLVMValueRef FRef) {
    Function *F = unwrap<Function>(FRef);
    return static_cast<unsigned>(F->getInstructionCount());
}

// Distinct functions defined in F's module that F calls directly. Writes
// at most Cap of them to Out; returns how many there are.
unsigned reopt_callees(LLVMValueRef FRef, LLVMValueRef *Out, unsigned Cap) {
    Function *F = unwrap<Function>(FRef);
    SmallPtrSet<Function *, 16> Seen;
    unsigned N = 0;
    for (Instruction &I : instructions(*F)) {
        auto *CB = dyn_cast<CallBase>(&I);
        if (!CB)
            continue;
        auto *Callee = dyn_cast<Function>(CB->getCalledOperand()->stripPointerCasts());
        if (!Callee || Callee->isDeclaration() || Callee->isIntrinsic() || !Seen.insert(Callee).second)
            continue;
        if (N < Cap)
            Out[N] = wrap(Callee);
        N++;
    }
    return N;
}

// Clones Defs (as external definitions) and Avail (as available_externally
// definitions, for inlining) into a new module with M's triple and data
// layout and in its context; every other global they reference becomes a
// declaration, except constant global variables of at most ConstLimit
// bytes, which become available_externally copies. (As bitcode, through
// reopt_write_bitcode, any context on any thread can load it.)
LLVMModuleRef reopt_extract_module(LLVMModuleRef MRef, LLVMValueRef *Defs, unsigned NDefs, LLVMValueRef *Avail,
                                   unsigned NAvail, uint64_t ConstLimit) {
    Module *M = unwrap(MRef);
    auto Dst = std::make_unique<Module>(M->getModuleIdentifier() + ".part", M->getContext());
    Dst->setDataLayout(M->getDataLayout());
    Dst->setTargetTriple(M->getTargetTriple());
    SmallVector<Module::ModuleFlagEntry, 8> Flags;
    M->getModuleFlagsMetadata(Flags);
    for (const Module::ModuleFlagEntry &E : Flags)
        Dst->addModuleFlag(E.Behavior, E.Key->getString(), E.Val);
    if (!Dst->getModuleFlag("Debug Info Version"))
        Dst->addModuleFlag(Module::Warning, "Debug Info Version", DEBUG_METADATA_VERSION);
    ValueToValueMapTy VMap;
    DeclMaterializer Mat(Dst.get(), ConstLimit);
    SmallVector<std::pair<Function *, Function *>, 8> Work;
    for (unsigned I = 0; I < NDefs + NAvail; I++) {
        Function *F = unwrap<Function>(I < NDefs ? Defs[I] : Avail[I - NDefs]);
        if (F->isDeclaration() || Dst->getNamedValue(F->getName()))
            continue;
        Function *NF = declareLike(Dst.get(), F);
        VMap[F] = NF;
        if (I < NDefs)
            Mat.Defs.insert(F);
        Work.push_back({F, NF});
    }
    for (unsigned I = 0; I < Work.size(); I++) {
        Function *F = Work[I].first, *NF = Work[I].second;
        auto DA = NF->arg_begin();
        for (const Argument &A : F->args()) {
            DA->setName(A.getName());
            VMap[&A] = &*DA++;
        }
        SmallVector<ReturnInst *, 8> Returns;
        CloneFunctionInto(NF, F, VMap, CloneFunctionChangeType::DifferentModule, Returns, "", nullptr, nullptr,
                          &Mat);
        NF->setLinkage(I < NDefs ? GlobalValue::ExternalLinkage : GlobalValue::AvailableExternallyLinkage);
        if (I >= NDefs) {
            NF->setVisibility(GlobalValue::DefaultVisibility);
            NF->setDSOLocal(false);
        }
    }
    for (unsigned I = 0; I < Mat.Owned.size(); I++) {
        GlobalVariable *NG = Mat.Owned[I].first;
        NG->setInitializer(MapValue(Mat.Owned[I].second->getInitializer(), VMap, RF_None, nullptr, &Mat));
        NG->setLinkage(GlobalValue::PrivateLinkage);
        NG->setVisibility(GlobalValue::DefaultVisibility);
    }
    // Constant initialisers of available_externally copies: globals they
    // reference are declared, never copied (Limit off while mapping).
    Mat.ConstLimit = 0;
    for (unsigned I = 0; I < Mat.Pending.size(); I++) {
        GlobalVariable *NG = Mat.Pending[I].first;
        const GlobalVariable *G = Mat.Pending[I].second;
        NG->setInitializer(MapValue(G->getInitializer(), VMap, RF_None, nullptr, &Mat));
        NG->setLinkage(GlobalValue::AvailableExternallyLinkage);
        NG->setVisibility(GlobalValue::DefaultVisibility);
        NG->setDSOLocal(false);
    }
    return wrap(Dst.release());
}

// The module as bitcode (the caller disposes of the buffer).
LLVMMemoryBufferRef reopt_write_bitcode(LLVMModuleRef MRef) {
    SmallVector<char, 0> Buf;
    raw_svector_ostream OS(Buf);
    WriteBitcodeToFile(*unwrap(MRef), OS);
    return LLVMCreateMemoryBufferWithMemoryRangeCopy(Buf.data(), Buf.size(), "reopt.part");
}

// Tier-0 instrumentation of F (its module must hold the declarations):
//  - entry: below the threshold `Enter(Index)`, a call of the data
//    partition's helper that does `old = atomicrmw add Counters[Index*8], 1;
//    if old == Threshold-1: Hook(Ctx, Index, 0)` (exactly one caller sees
//    the crossing); out of line because FastISel cannot select atomics (an
//    inline atomicrmw sends the block to SelectionDAG, ~0.3 ms more per
//    function). Past the threshold (the function is queued) the count only
//    orders the queue: a plain volatile increment, no locked instruction;
//  - every natural loop header: a volatile (not atomic: cheap, and
//    FastISel handles it; racing threads may lose counts) load/add/store of
//    Counters[Slot*8+1] and `Hook(Ctx, Index, 1)` each time it reaches a
//    multiple of BackedgeMask+1 (the host keeps only the first);
//  - before each direct call of Callees[k]: a volatile increment of
//    Edges[EdgeIndex[k]] (the call-graph profile for inlining).
// Counters and Edges are i64 arrays, Hook is `void(i64, i32, i32)`, Enter `void(i32)`.
// Returns the number of loop headers instrumented.
unsigned reopt_instrument(LLVMValueRef FRef, LLVMValueRef CountersRef, LLVMValueRef EdgesRef, LLVMValueRef HookRef,
                          LLVMValueRef EnterRef, uint64_t Ctx, uint32_t Index, uint64_t Threshold,
                          uint64_t BackedgeMask,
                          LLVMValueRef *Callees, const uint64_t *EdgeIndex, unsigned NCallees) {
    Function *F = unwrap<Function>(FRef);
    auto *Counters = unwrap<GlobalVariable>(CountersRef);
    auto *Edges = unwrap<GlobalVariable>(EdgesRef);
    auto *Hook = unwrap<Function>(HookRef);
    auto *Enter = unwrap<Function>(EnterRef);
    LLVMContext &C = F->getContext();
    Type *I64 = Type::getInt64Ty(C);
    Type *I32 = Type::getInt32Ty(C);
    Counters->setDSOLocal(true);
    Edges->setDSOLocal(true);
    MDNode *Cold = MDBuilder(C).createBranchWeights(1, 1 << 20);
    auto Slot = [&](IRBuilder<> &B, GlobalVariable *Arr, uint64_t K) {
        return B.CreateConstGEP2_64(Arr->getValueType(), Arr, 0, K);
    };
    auto CallHook = [&](Instruction *Cond, uint32_t Reason) {
        Instruction *Then = SplitBlockAndInsertIfThen(Cond, Cond->getNextNode(), false, Cold);
        IRBuilder<> HB(Then);
        HB.CreateCall(Hook->getFunctionType(), Hook,
                      {ConstantInt::get(I64, Ctx), ConstantInt::get(I32, Index), ConstantInt::get(I32, Reason)});
    };

    // Edge counters first (the splits below would not move the calls).
    SmallVector<std::pair<CallBase *, uint64_t>, 32> Sites;
    for (Instruction &I : instructions(*F)) {
        auto *CB = dyn_cast<CallBase>(&I);
        if (!CB)
            continue;
        Value *Callee = CB->getCalledOperand()->stripPointerCasts();
        for (unsigned K = 0; K < NCallees; K++)
            if (Callee == unwrap(Callees[K]))
                Sites.push_back({CB, EdgeIndex[K]});
    }
    for (auto &S : Sites) {
        IRBuilder<> B(S.first);
        Value *P = Slot(B, Edges, S.second);
        LoadInst *L = B.CreateAlignedLoad(I64, P, Align(8), /*isVolatile=*/true);
        B.CreateAlignedStore(B.CreateAdd(L, ConstantInt::get(I64, 1)), P, Align(8), /*isVolatile=*/true);
    }

    // Loop headers (natural loops only; irreducible cycles are not counted).
    SmallVector<BasicBlock *, 8> Headers;
    {
        DominatorTree DT(*F);
        LoopInfo LI(DT);
        for (Loop *L : LI.getLoopsInPreorder())
            Headers.push_back(L->getHeader());
    }
    for (BasicBlock *H : Headers) {
        IRBuilder<> B(&*H->getFirstInsertionPt());
        Value *P = Slot(B, Counters, uint64_t(Index) * 8 + 1);
        LoadInst *L = B.CreateAlignedLoad(I64, P, Align(8), /*isVolatile=*/true);
        Value *N = B.CreateAdd(L, ConstantInt::get(I64, 1));
        B.CreateAlignedStore(N, P, Align(8), /*isVolatile=*/true);
        auto *Cond = cast<Instruction>(
            B.CreateICmpEQ(B.CreateAnd(N, ConstantInt::get(I64, BackedgeMask)), ConstantInt::get(I64, 0)));
        CallHook(Cond, 1);
    }

    // Entry counter, after the entry block's allocas so they stay static.
    BasicBlock &Entry = F->getEntryBlock();
    auto It = Entry.getFirstInsertionPt();
    while (isa<AllocaInst>(&*It))
        ++It;
    IRBuilder<> B(&*It);
    Value *P = Slot(B, Counters, uint64_t(Index) * 8);
    LoadInst *Cnt = B.CreateAlignedLoad(I64, P, Align(8), /*isVolatile=*/true);
    auto *Below = cast<Instruction>(B.CreateICmpULT(Cnt, ConstantInt::get(I64, Threshold)));
    Instruction *Then = nullptr, *Else = nullptr;
    SplitBlockAndInsertIfThenElse(Below, Below->getNextNode(), &Then, &Else);
    IRBuilder<> TB(Then);
    TB.CreateCall(Enter->getFunctionType(), Enter, {ConstantInt::get(I32, Index)});
    IRBuilder<> EB(Else);
    EB.CreateAlignedStore(EB.CreateAdd(Cnt, ConstantInt::get(I64, 1)), P, Align(8), /*isVolatile=*/true);
    return static_cast<unsigned>(Headers.size());
}

} // extern "C"
